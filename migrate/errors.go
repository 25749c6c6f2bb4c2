package migrate

import "errors"

// ErrPgmqExtension is returned by Up when the real pgmq extension is installed in the database: PGTQ installs
// its own schema pgmq and cannot live beside the extension (SQLSTATE PQ006 from the first migration).
var ErrPgmqExtension = errors.New("the pgmq extension is installed; PGTQ's schema pgmq cannot be installed beside it")
