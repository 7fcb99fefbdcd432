// Package backup makes and restores consistent online backups of an edge
// node's store and of the cloud service's embedded store.
//
// # Taking a backup
//
// The store directory is locked by the running process, so the process
// itself takes the snapshot: GET /api/v1/admin/backup (edge API; on the
// cloud service an admin route, bearer admin_token) calls Write, which asks
// the store for a Pebble checkpoint (store.DB.Snapshot) in a temporary
// directory beside the store (<data>/.backup-*, hard links to the immutable
// sstables, copies of the WAL and MANIFEST), streams it as an archive and
// removes it. Writes continue meanwhile. The snapshot holds every Append
// that returned before the request and is a crash image of the store: on
// Open the store replays the WAL records it contains, as after kill -9.
// The edge node flushes the device registry's lazily kept state first.
//
// `edgevault backup` downloads the archive, verifies it as it arrives and,
// with a key, encrypts it on the client: the key never reaches the server.
// `edgevault restore` verifies and unpacks a backup into a new data
// directory (Restore).
//
// # Archive
//
// A zstd stream (RFC 8878, frame checksums on) of a tar archive (POSIX
// ustar or PAX headers) with, in this order:
//
//	EDGEVAULT-BACKUP   JSON manifest {"format":1,"kind":"edge"|"cloud","created":RFC 3339}
//	store/<name>       the snapshot's files, regular files only
//	EDGEVAULT-SUMS     JSON {"files":[{"path","size","sha256"(hex)}...]}, every store file once
//
// and nothing after the sums. Restoring the files under store/ of a data
// directory gives the store the node opens (<data>/store). A reader
// refuses: a first entry that is not the manifest (ErrNotBackup), another
// format (ErrVersion), entries that are not plain files or directories,
// absolute names, names with "." or ".." elements, backslashes, NUL or
// colons, names outside store/ (ErrUnsafePath), a missing sums entry
// (ErrTruncated), a file whose size or SHA-256 differs from the sums, a file
// missing from them or listed twice, an archive with no store files, an
// entry after the sums, and anything zstd or tar rejects (ErrCorrupt).
// Checksums catch damage, not forgery: only encryption authenticates.
//
// # Encrypted file
//
//	header = "EVBK"  version(1)=1  chunk size(4, big endian)  salt(32)  key check(16)
//	then chunks: AES-256-GCM(file key, nonce, plaintext, associated data = header)
//	             = ciphertext || tag(16)
//
// The plaintext is the archive above, cut into chunks of exactly chunk size
// bytes (16 B .. 16 MiB; 64 KiB by default) except the last, which has 0 to
// chunk size bytes; the file ends right after the last chunk's tag.
//
// The random salt is the file's base nonce: the file key and the key check
// are HKDF-SHA256(backup key, salt, info "edgevault backup v1 aes-256-gcm"),
// 32 and 16 bytes. Every file thus has its own AES key, so the chunk nonces
// can be a plain counter without ever repeating under one key, however many
// backups share the backup key:
//
//	nonce(i) = 0x000000  i(8, big endian)  final(1)   final = 1 on the last chunk, else 0
//
// A reader compares the key check first (ErrWrongKey: wrong key, or a
// damaged salt). A chunk that does not open is ErrCorrupt, except a last
// chunk that opens with final = 0: the file was cut at a chunk boundary
// (ErrTruncated). Reordered, dropped, duplicated or appended chunks do not
// open, and neither does anything after a header whose bytes changed.
// A decrypted chunk is authentic but the file is complete only at io.EOF,
// so restore unpacks into a temporary directory and renames it at the end.
//
// # Keys
//
// A key file holds 32 bytes: raw, or 64 hex digits (white space around
// them ignored). `edgevault backup --gen-key --key-file K` writes one with
// mode 0600; `head -c32 /dev/urandom > K` works too. Lose the key and the
// backups made with it are lost.
package backup
