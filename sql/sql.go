// Package sql embeds PGTQ's SQL: the numbered goose migrations in migrations/, the function definitions in
// functions/, which are re-applied (CREATE OR REPLACE) after every migration run, and the per-queue statement
// templates in statements/, which the migrator loads into pgtq.statement_templates before the functions.
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

// Statements holds the per-queue statement templates (statements/<stmt>.sql): one CREATE FUNCTION each, with
// the placeholders {{fn}}, {{q}} and {{a}} for the function's name and the queue's table and archive.
//
//go:embed statements/*.sql
var Statements embed.FS

// FunctionsHash returns the SHA-256 (hex) of every file in functions/ and statements/, names and contents, in
// name order.
// The migrator records it in pgtq.schema_functions, with the schema version (CurrentVersion), after applying
// the files, and re-applies them when the database holds another hash; sql/versions.txt records it per
// released version.
func FunctionsHash() string {
	h := sha256.New()
	for _, f := range FunctionFiles() {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Name, len(f.Body))
		h.Write([]byte(f.Body))
	}
	for _, f := range StatementFiles() {
		fmt.Fprintf(h, "statements/%s\x00%d\x00", f.Name, len(f.Body))
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
	return files(Functions, "functions")
}

// StatementFiles returns the templates of statements/ by name; a template's statement name is its file name
// without ".sql".
func StatementFiles() []File {
	return files(Statements, "statements")
}

// files returns the .sql files of dir in fsys, by name.
func files(fsys embed.FS, dir string) []File {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		// The directory is embedded at build time; failing to read it is a build defect.
		panic(fmt.Sprintf("read embedded %s: %v", dir, err))
	}
	files := make([]File, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			panic(fmt.Sprintf("read embedded %s: %v", e.Name(), err))
		}
		files = append(files, File{Name: e.Name(), Body: string(b)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files
}

// FunctionsPatch is P in the schema version "S.P" (see Version): the number of released changes to functions/
// or statements/ since migration S. Bump it with every change of those files that is released without a new
// migration, reset it to 0 when a migration is added, and record the new hash with `go generate ./sql`. The
// test TestFunctionsHashIsRecorded fails when the files changed but versions.txt still holds another hash.
const FunctionsPatch = 1

// CompatibleSince is the oldest S (migration number) whose binaries still work against this schema: the
// driver of a binary built at S accepts a database at S' >= S whose recorded CompatibleSince is <= S. Raise it
// to the current S when a change breaks older clients (a function's signature, result or meaning changes); keep
// it when older clients keep working, so that binaries of both versions can run during a rolling deploy.
const CompatibleSince = 6
