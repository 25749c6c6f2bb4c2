// Package sql embeds PGTQ's SQL: the numbered goose migrations in migrations/ and the function
// definitions in functions/, which are re-applied (CREATE OR REPLACE) after every migration run.
package sql

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// Migrations holds the numbered goose migrations (migrations/NNNNN_name.sql).
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Functions holds one file per public SQL function (functions/NNN_name.sql), applied in name order.
//
//go:embed functions/*.sql
var Functions embed.FS

// FunctionsHash returns the SHA-256 (hex) of every file in functions/, names and contents, in name order.
// The migrator records it in pgtq.schema_functions after applying the files, and the driver compares it with
// the value in the database to tell whether the database holds the function bodies this binary was built with.
func FunctionsHash() string {
	h := sha256.New()
	for _, f := range FunctionFiles() {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Name, len(f.Body))
		h.Write([]byte(f.Body))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// File is one embedded SQL file.
type File struct {
	// Name is the file's base name, e.g. "100_send.sql".
	Name string
	// Body is the file's content.
	Body string
}

// FunctionFiles returns the files of functions/ in the order they must be applied (by name).
func FunctionFiles() []File {
	entries, err := fs.ReadDir(Functions, "functions")
	if err != nil {
		// The directory is embedded at build time; failing to read it is a build defect.
		panic(fmt.Sprintf("read embedded functions: %v", err))
	}
	files := make([]File, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := fs.ReadFile(Functions, "functions/"+e.Name())
		if err != nil {
			panic(fmt.Sprintf("read embedded %s: %v", e.Name(), err))
		}
		files = append(files, File{Name: e.Name(), Body: string(b)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files
}
