package migrate

import "errors"

// ErrPgmqExtension is returned by Up when the real pgmq extension is installed in the database: PGTQ installs
// its own schema pgmq and cannot live beside the extension (SQLSTATE PQ006 from the first migration).
var ErrPgmqExtension = errors.New("the pgmq extension is installed; PGTQ's schema pgmq cannot be installed beside it")

// ErrSchemaNewer is returned by Up and Redo when the database holds a newer PGTQ schema than this binary: a
// migration it does not know, or functions recorded with a newer schema version (sql.Version). Nothing is
// changed; upgrade the migrating binary. The message names both versions.
var ErrSchemaNewer = errors.New("the database holds a newer PGTQ schema than this binary")
