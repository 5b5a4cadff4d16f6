package mailin

import (
	"testing"

	"casegate/internal/pgtest"
)

// TestMain stops the PostgreSQL cluster pgtest may start for this package.
func TestMain(m *testing.M) { pgtest.Main(m) }
