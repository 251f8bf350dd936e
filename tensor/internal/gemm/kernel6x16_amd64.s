#include "textflag.h"

// func kernel6x16(kc int, a *float32, rsa, csa int, b *float32, sb int, c *float32, ldc int, add bool, bias *float32, rows, cols int, offs *int, taps int, rbias *float32)
//
// The AVX2 micro-kernel (see kernel6x16 in kernel6x16_amd64.go): twelve
// YMM accumulators Y0–Y11 (row r in Y2r, Y2r+1), the two B vectors of a k
// step in Y12, Y13 and the broadcast A value in Y14. The strides are in
// elements; they are scaled to bytes here. For each of the taps offsets
// (elements) at offs, kc k steps with B from b + offs[t]; A runs on from
// one tap to the next; then rbias[r] (six values) is added to row r unless
// rbias is nil. kc >= 1, taps >= 1, 1 <= rows <= 6 and
// 1 <= cols <= 16; a tile narrower than 16 is read and written with
// VMASKMOVPS, whose masked-off lanes do not touch memory.
//
// The k loop runs two steps per iteration, and each step prefetches the B
// row 16 steps ahead (R14 = 16 B strides): B streams from L2 or beyond
// while A stays in L1, and without the prefetch the kernel ran at 70 % of
// its in-L1 rate inside a 2048³ product. The six rows of the C tile are
// prefetched before the k loop, so that the write does not wait for them.
// Together: 2048³ sgemm on 2 Zen 3 cores from 98–103 to 110–118 GFLOP/s
// (median of 7, interleaved in one run).

// STEP is one k step: the two B vectors times the six A values.
#define STEP \
	PREFETCHT0 (DI)(R14*1) \
	VMOVUPS (DI), Y12 \
	VMOVUPS 32(DI), Y13 \
	VBROADCASTSS (SI), Y14 \
	VFMADD231PS Y12, Y14, Y0 \
	VFMADD231PS Y13, Y14, Y1 \
	VBROADCASTSS (SI)(R8*1), Y15 \
	VFMADD231PS Y12, Y15, Y2 \
	VFMADD231PS Y13, Y15, Y3 \
	VBROADCASTSS (SI)(R8*2), Y14 \
	VFMADD231PS Y12, Y14, Y4 \
	VFMADD231PS Y13, Y14, Y5 \
	VBROADCASTSS (SI)(R11*1), Y15 \
	VFMADD231PS Y12, Y15, Y6 \
	VFMADD231PS Y13, Y15, Y7 \
	VBROADCASTSS (SI)(R8*4), Y14 \
	VFMADD231PS Y12, Y14, Y8 \
	VFMADD231PS Y13, Y14, Y9 \
	VBROADCASTSS (SI)(R12*1), Y15 \
	VFMADD231PS Y12, Y15, Y10 \
	VFMADD231PS Y13, Y15, Y11 \
	ADDQ R9, SI \
	ADDQ R10, DI

TEXT ·kernel6x16(SB), NOSPLIT, $0-120
	MOVQ kc+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ rsa+16(FP), R8
	MOVQ csa+24(FP), R9
	MOVQ b+32(FP), R13
	MOVQ sb+40(FP), R10
	MOVQ offs+96(FP), AX
	MOVQ taps+104(FP), BX
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10
	LEAQ (R8)(R8*2), R11 // 3 rows
	LEAQ (R8)(R8*4), R12 // 5 rows
	MOVQ R10, R14
	SHLQ $4, R14 // B 16 steps ahead
	// Prefetch the six rows of the C tile (16 values: one or two lines).
	MOVQ c+48(FP), CX
	MOVQ ldc+56(FP), DI
	SHLQ $2, DI
	PREFETCHT0 (CX)
	PREFETCHT0 60(CX)
	ADDQ DI, CX
	PREFETCHT0 (CX)
	PREFETCHT0 60(CX)
	ADDQ DI, CX
	PREFETCHT0 (CX)
	PREFETCHT0 60(CX)
	ADDQ DI, CX
	PREFETCHT0 (CX)
	PREFETCHT0 60(CX)
	ADDQ DI, CX
	PREFETCHT0 (CX)
	PREFETCHT0 60(CX)
	ADDQ DI, CX
	PREFETCHT0 (CX)
	PREFETCHT0 60(CX)

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

tap:
	MOVQ (AX), DI
	LEAQ (R13)(DI*4), DI
	MOVQ DX, CX
	TESTQ $1, CX // an odd kc: one step first
	JZ   even
	STEP
	DECQ CX
	JZ   tapend
even:
	SHRQ $1, CX
loop:
	STEP
	STEP
	DECQ CX
	JNZ  loop
tapend:
	ADDQ $8, AX
	DECQ BX
	JNZ  tap

	// The bias of each row.
	MOVQ rbias+112(FP), AX
	TESTQ AX, AX
	JZ   write
	VBROADCASTSS (AX), Y12
	VADDPS Y12, Y0, Y0
	VADDPS Y12, Y1, Y1
	VBROADCASTSS 4(AX), Y12
	VADDPS Y12, Y2, Y2
	VADDPS Y12, Y3, Y3
	VBROADCASTSS 8(AX), Y12
	VADDPS Y12, Y4, Y4
	VADDPS Y12, Y5, Y5
	VBROADCASTSS 12(AX), Y12
	VADDPS Y12, Y6, Y6
	VADDPS Y12, Y7, Y7
	VBROADCASTSS 16(AX), Y12
	VADDPS Y12, Y8, Y8
	VADDPS Y12, Y9, Y9
	VBROADCASTSS 20(AX), Y12
	VADDPS Y12, Y10, Y10
	VADDPS Y12, Y11, Y11

write:

	// Write the first rows rows: per row, add C's previous value when
	// add, the bias when not nil, and store.
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R8
	MOVBLZX add+64(FP), AX
	MOVQ bias+72(FP), BX
	MOVQ rows+80(FP), CX
	MOVQ cols+88(FP), R9
	CMPQ R9, $16
	JLT  partial
	TESTQ BX, BX
	JZ   row0
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13

#define ROW(lo, hi) \
	TESTQ AX, AX \
	JZ   3(PC) \
	VADDPS (DX), lo, lo \
	VADDPS 32(DX), hi, hi \
	TESTQ BX, BX \
	JZ   3(PC) \
	VADDPS Y12, lo, lo \
	VADDPS Y13, hi, hi \
	VMOVUPS lo, (DX) \
	VMOVUPS hi, 32(DX) \
	ADDQ R8, DX \
	DECQ CX \
	JZ   done

row0:
	ROW(Y0, Y1)
	ROW(Y2, Y3)
	ROW(Y4, Y5)
	ROW(Y6, Y7)
	ROW(Y8, Y9)
	ROW(Y10, Y11)

done:
	VZEROUPPER
	RET

partial:
	// The masks of columns 0-7 (Y14) and 8-15 (Y15): colmask from
	// element 16-cols on.
	LEAQ colmask<>(SB), R10
	NEGQ R9
	LEAQ 64(R10)(R9*4), R10
	VMOVUPS (R10), Y14
	VMOVUPS 32(R10), Y15
	TESTQ BX, BX
	JZ   prow0
	VMASKMOVPS (BX), Y14, Y12
	VMASKMOVPS 32(BX), Y15, Y13
	VADDPS Y12, Y0, Y0
	VADDPS Y13, Y1, Y1
	VADDPS Y12, Y2, Y2
	VADDPS Y13, Y3, Y3
	VADDPS Y12, Y4, Y4
	VADDPS Y13, Y5, Y5
	VADDPS Y12, Y6, Y6
	VADDPS Y13, Y7, Y7
	VADDPS Y12, Y8, Y8
	VADDPS Y13, Y9, Y9
	VADDPS Y12, Y10, Y10
	VADDPS Y13, Y11, Y11

#define PROW(lo, hi) \
	TESTQ AX, AX \
	JZ   5(PC) \
	VMASKMOVPS (DX), Y14, Y12 \
	VMASKMOVPS 32(DX), Y15, Y13 \
	VADDPS Y12, lo, lo \
	VADDPS Y13, hi, hi \
	VMASKMOVPS lo, Y14, (DX) \
	VMASKMOVPS hi, Y15, 32(DX) \
	ADDQ R8, DX \
	DECQ CX \
	JZ   done

prow0:
	PROW(Y0, Y1)
	PROW(Y2, Y3)
	PROW(Y4, Y5)
	PROW(Y6, Y7)
	PROW(Y8, Y9)
	PROW(Y10, Y11)
	JMP  done

// colmask is sixteen all-ones lanes followed by sixteen zero lanes.
DATA colmask<>+0(SB)/8, $0xffffffffffffffff
DATA colmask<>+8(SB)/8, $0xffffffffffffffff
DATA colmask<>+16(SB)/8, $0xffffffffffffffff
DATA colmask<>+24(SB)/8, $0xffffffffffffffff
DATA colmask<>+32(SB)/8, $0xffffffffffffffff
DATA colmask<>+40(SB)/8, $0xffffffffffffffff
DATA colmask<>+48(SB)/8, $0xffffffffffffffff
DATA colmask<>+56(SB)/8, $0xffffffffffffffff
DATA colmask<>+64(SB)/8, $0
DATA colmask<>+72(SB)/8, $0
DATA colmask<>+80(SB)/8, $0
DATA colmask<>+88(SB)/8, $0
DATA colmask<>+96(SB)/8, $0
DATA colmask<>+104(SB)/8, $0
DATA colmask<>+112(SB)/8, $0
DATA colmask<>+120(SB)/8, $0
GLOBL colmask<>(SB), RODATA|NOPTR, $128
