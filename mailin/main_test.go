package mailin

import (
	"testing"

	"casegate/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
