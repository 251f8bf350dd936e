package gemm

// packA packs rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into mr-row
// micro-panels: element (i0+ip*mr+r, p0+q) goes to dst[ip*mr*kc+q*mr+r].
// Rows past the end of the block are zero.
func (p *problem) packA(dst []float32, mr, i0, mc, p0, kc int) {
	for ip := 0; ip < mc; ip += mr {
		rows := min(mr, mc-ip)
		panel := dst[ip*kc : ip*kc+mr*kc]
		if p.transA {
			// op(A)(i, q) = a[q*lda+i]: each step is a contiguous run,
			// copied element by element for the full panels of the
			// kernels (a loop and a clear per run of 6 values cost four times
			// as much: packing was 7 % of the gmm2d iteration).
			if rows == 6 && mr == 6 {
				for q := range kc {
					src := p.a[(p0+q)*p.lda+i0+ip:]
					src = src[:6]
					d := panel[q*6 : q*6+6]
					d[0], d[1], d[2], d[3], d[4], d[5] = src[0], src[1], src[2], src[3], src[4], src[5]
				}
				continue
			}
			for q := range kc {
				src := p.a[(p0+q)*p.lda+i0+ip:]
				d := panel[q*mr : q*mr+mr]
				for r := range rows {
					d[r] = src[r]
				}
				clear(d[rows:])
			}
			continue
		}
		// op(A)(i, q) = a[i*lda+q]: each row is a contiguous run.
		for r := range rows {
			src := p.a[(i0+ip+r)*p.lda+p0:]
			src = src[:kc]
			for q, v := range src {
				panel[q*mr+r] = v
			}
		}
		for r := rows; r < mr; r++ {
			for q := range kc {
				panel[q*mr+r] = 0
			}
		}
	}
}

// packB packs rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) into
// nr-column micro-panels: element (p0+q, j0+jp*nr+j) goes to
// dst[jp*nr*kc+q*nr+j]. Columns past the end of the block are zero.
func (p *problem) packB(dst []float32, nr, p0, kc, j0, nc int) {
	for jp := 0; jp < nc; jp += nr {
		cols := min(nr, nc-jp)
		panel := dst[jp*kc : jp*kc+nr*kc]
		if !p.transB {
			// op(B)(q, j) = b[q*ldb+j]: each step is a contiguous run.
			for q := range kc {
				src := p.b[(p0+q)*p.ldb+j0+jp:]
				d := panel[q*nr : q*nr+nr]
				copy(d, src[:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)(q, j) = b[j*ldb+q]: each column is a contiguous run.
		for j := range cols {
			src := p.b[(j0+jp+j)*p.ldb+p0:]
			src = src[:kc]
			for q, v := range src {
				panel[q*nr+j] = v
			}
		}
		if cols < nr {
			for q := range kc {
				clear(panel[q*nr+cols : q*nr+nr])
			}
		}
	}
}
