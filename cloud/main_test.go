package cloud

import (
	"os"
	"testing"

	"github.com/edgevault/edgevault/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
