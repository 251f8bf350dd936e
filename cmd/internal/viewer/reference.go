package viewer

import (
	"math"

	"github.com/difftune/difftune/shaders"
)

// renderCPU is the plain-Go reference of the two kernels: the same counts
// (splat) and the same pixels (compose) as glsl/view_splat.comp and
// glsl/view_compose.comp, bit for bit. v must be valid.
func renderCPU(v *shaders.View, dst []uint32) {
	counts := make([]uint32, v.Counts)
	for _, s := range v.Splats {
		splat(counts, s)
	}
	compose(v, counts, dst)
}

// splat adds the discs of s's points to counts (view_splat.comp).
func splat(counts []uint32, s shaders.ViewSplat) {
	r, w, h := s.Radius, s.Width, s.Height
	for i := 0; i < len(s.Points); i += s.Stride {
		// The explicit conversions keep Go from fusing the multiply-add,
		// as `precise` keeps the kernel from it.
		fx := float32(s.Points[i]*s.SX) + s.OX
		fy := float32(s.Points[i+1]*s.SY) + s.OY
		if !(fx > float32(-r-1) && fx < float32(w+r+1) && fy > float32(-r-1) && fy < float32(h+r+1)) {
			continue
		}
		cx, cy := int(math.Floor(float64(fx))), int(math.Floor(float64(fy)))
		for dy := -r; dy <= r; dy++ {
			y := cy + dy
			if y < 0 || y >= h {
				continue
			}
			for dx := -r; dx <= r; dx++ {
				x := cx + dx
				if x < 0 || x >= w || dx*dx+dy*dy > r*r+r {
					continue
				}
				counts[s.Offset+y*w+x]++
			}
		}
	}
}

// over blends colour c at opacity a (0–255) over the pixel p, per channel
// (dst·(255 − a) + src·a + 127) / 255, as view_compose.comp.
func over(p, c, a uint32) uint32 {
	out := uint32(0xff000000)
	for sh := uint32(0); sh < 24; sh += 8 {
		v := ((p>>sh&255)*(255-a) + (c>>sh&255)*a + 127) / 255
		out |= v << sh
	}
	return out
}

// coverage is the opacity of n hits of alpha a each (view_compose.comp).
func coverage(n, a uint32) uint32 {
	rem := uint32(255)
	for j := uint32(0); j < n && rem != 0; j++ {
		rem = rem * (255 - a) / 255
	}
	return 255 - rem
}

// compose paints v's items over its background into dst. The kernel loops
// over the items per pixel; this loops over the pixels per item, which
// paints every pixel in the same order.
func compose(v *shaders.View, counts, dst []uint32) {
	bg := v.Background&0xffffff | 0xff000000
	for i := range dst {
		dst[i] = bg
	}
	W := v.Width
	for k := 0; k < len(v.Items); k += shaders.ViewItemWords {
		it := v.Items[k : k+shaders.ViewItemWords]
		x0, y0, x1, y1 := int(it[1]), int(it[2]), int(it[3]), int(it[4])
		a, b := it[5], it[6]
		w, h := x1-x0, y1-y0
		for y := y0; y < y1; y++ {
			row := dst[y*W : (y+1)*W]
			ly := y - y0
			for x := x0; x < x1; x++ {
				lx := x - x0
				switch it[0] {
				case shaders.ViewRect:
					row[x] = over(row[x], a, a>>24)
				case shaders.ViewGlyph:
					gx, gy := lx*v.FontW/w, ly*v.FontH/h
					if v.Font[4*int(b)+gy>>2]>>(8*(gy&3)+gx)&1 != 0 {
						row[x] = over(row[x], a, a>>24)
					}
				case shaders.ViewImage:
					ih, iw := int(b&0xffff), int(b>>16)
					row[x] = v.Images[int(a)+(ly*ih/h)*iw+lx*iw/w] | 0xff000000
				case shaders.ViewPoints:
					row[x] = over(row[x], b, coverage(counts[int(a)+ly*w+lx], b>>24))
				}
			}
		}
	}
}
