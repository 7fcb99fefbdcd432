package backup

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const backupUsage = `usage: edgevault backup --out FILE [--url URL] [--key-file KEY] [--token T]
       edgevault backup --gen-key --key-file KEY

Downloads a consistent snapshot of a running edge node's store (or of a cloud
service's embedded store) from GET <url>/api/v1/admin/backup, checks it while
it arrives, and writes it to FILE: a zstd-compressed tar, or with --key-file
that archive encrypted with AES-256-GCM. FILE must not exist. The key file
holds 32 bytes, raw or as 64 hex digits; --gen-key writes a new one.

flags:
`

const restoreUsage = `usage: edgevault restore --in FILE --data DIR [--key-file KEY] [--force]
       edgevault restore --in FILE --check [--key-file KEY]

Verifies a backup and unpacks it as the data directory DIR of a stopped node
(edge --data or cloud --data). DIR must not exist or be empty; --force moves a
non-empty one aside to DIR.replaced-<time>. Nothing outside a temporary
directory beside DIR is written unless the whole backup verifies.
(edgevault restore --from-cloud URL --edge ID rebuilds a data directory from
the cloud instead.)

flags:
`

// Command runs `edgevault backup ARGS` or `edgevault restore ARGS`: args[0]
// is the verb. It returns the process exit code.
func Command(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 && args[0] == "restore" {
		return restoreCommand(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "backup" {
		args = args[1:]
	}
	return backupCommand(ctx, args, stdout, stderr)
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	return fs
}

// parse parses flags, returning an exit code when the command should stop.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgevault %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	return 0, true
}

func backupCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup", backupUsage, stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "base `URL` of the edge node or cloud service")
	out := fs.String("out", "", "backup `file` to write (must not exist)")
	keyFile := fs.String("key-file", "", "encrypt with the key in `file`")
	token := fs.String("token", os.Getenv("EDGEVAULT_ADMIN_TOKEN"), "bearer `token` (cloud admin_token; default $EDGEVAULT_ADMIN_TOKEN)")
	genKey := fs.Bool("gen-key", false, "write a new random key to --key-file and exit")
	if code, ok := parse(fs, args, stderr); !ok {
		return code
	}
	if *genKey {
		return genKeyCommand(*keyFile, stdout, stderr)
	}
	if *out == "" {
		fmt.Fprintln(stderr, "edgevault backup: --out is required")
		return 2
	}
	var key []byte
	if *keyFile != "" {
		var err error
		if key, err = ReadKeyFile(*keyFile); err != nil {
			fmt.Fprintf(stderr, "edgevault backup: %v\n", err)
			return 2
		}
	}
	start := time.Now()
	res, err := Download(ctx, DownloadOptions{URL: *url, Token: *token, Key: key}, *out)
	if err != nil {
		fmt.Fprintf(stderr, "edgevault backup: %v\n", err)
		return 1
	}
	enc := ""
	if key != nil {
		enc = " (encrypted)"
	}
	fmt.Fprintf(stdout, "wrote %s%s: %s snapshot of %s, %d store files, %s stored in %s, %s\n", *out, enc,
		res.Manifest.Kind, res.Manifest.Created.Format(time.RFC3339), res.Stats.Files, sizeOf(res.Stats.Bytes),
		sizeOf(res.Size), time.Since(start).Round(time.Millisecond))
	return 0
}

func genKeyCommand(path string, stdout, stderr io.Writer) int {
	if path == "" {
		fmt.Fprintln(stderr, "edgevault backup: --gen-key needs --key-file")
		return 2
	}
	if err := WriteNewKey(path); err != nil {
		fmt.Fprintf(stderr, "edgevault backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote a new backup key to %s; keep a copy apart from the backups: without it they cannot be read\n", path)
	return 0
}

func restoreCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("restore", restoreUsage, stderr)
	in := fs.String("in", "", "backup `file` to read")
	data := fs.String("data", "", "data `dir` to restore into")
	keyFile := fs.String("key-file", "", "decrypt with the key in `file`")
	force := fs.Bool("force", false, "move a non-empty data dir aside instead of refusing")
	check := fs.Bool("check", false, "only verify the backup; write nothing")
	if code, ok := parse(fs, args, stderr); !ok {
		return code
	}
	if *in == "" || (*data == "") == !*check {
		fmt.Fprintln(stderr, "edgevault restore: --in and one of --data or --check are required")
		return 2
	}
	var key []byte
	if *keyFile != "" {
		var err error
		if key, err = ReadKeyFile(*keyFile); err != nil {
			fmt.Fprintf(stderr, "edgevault restore: %v\n", err)
			return 2
		}
	}
	if err := restoreFile(ctx, *in, key, *data, *force, *check, stdout); err != nil {
		fmt.Fprintf(stderr, "edgevault restore: %v\n", err)
		return 1
	}
	return 0
}

func restoreFile(ctx context.Context, in string, key []byte, data string, force, check bool, stdout io.Writer) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	if check {
		m, st, err := Verify(ctxReader{ctx, f}, key)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: intact %s backup of %s, %d store files, %s\n", in, m.Kind,
			m.Created.Format(time.RFC3339), st.Files, sizeOf(st.Bytes))
		return nil
	}
	res, err := Restore(ctx, f, key, data, force)
	if err != nil {
		return err
	}
	if res.MovedAside != "" {
		fmt.Fprintf(stdout, "moved the old data directory to %s\n", res.MovedAside)
	}
	fmt.Fprintf(stdout, "restored %s backup of %s into %s: %d store files, %s, %d series; start the %s node with --data %s\n",
		res.Manifest.Kind, res.Manifest.Created.Format(time.RFC3339), data, res.Stats.Files,
		sizeOf(res.Stats.Bytes), res.Series, res.Manifest.Kind, data)
	return nil
}

// Verify reads a whole backup and checks it, writing nothing.
func Verify(r io.Reader, key []byte) (Manifest, Stats, error) {
	plain, _, err := Open(r, key)
	if err != nil {
		return Manifest{}, Stats{}, err
	}
	return readArchive(plain, discard{})
}

func sizeOf(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// httpError reads the JSON error answer of a failed request.
func httpError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var e struct{ Error string }
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	return fmt.Errorf("server answered %s: %s", resp.Status, msg)
}
