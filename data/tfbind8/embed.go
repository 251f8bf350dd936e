// Package tfbind8 embeds the SIX6 protein-binding landscape that the TFBind8
// task is built from (README.md in this folder: provenance, Apache-2.0
// license, format). The file is stored gzip-compressed and compiled into
// every binary that imports this package, so no data file has to be found at
// run time.
package tfbind8

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"io"
)

// Name names the embedded landscape where a file path would otherwise be
// reported (for example as the Path of a parsed landscape).
const Name = "SIX6_REF_R1_8mers (embedded)"

//go:embed SIX6_REF_R1_8mers.txt.gz
var six6 []byte

// Open returns the decompressed text of SIX6_REF_R1_8mers.txt: a header line,
// then 32,896 tab-separated rows `8-mer  reverse-complement  E-score  Median
// Z-score`. Each call returns an independent reader; the caller closes it.
func Open() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(six6))
}
