package gotest

import (
	"testing"

	"github.com/pgtq/pgtq/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
