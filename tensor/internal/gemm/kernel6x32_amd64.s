#include "textflag.h"

// func kernel6x32(kc int, a *float32, rsa, csa int, b *float32, sb int, c *float32, ldc int, add bool, bias *float32, rows, cols int, offs *int, taps int, rbias *float32)
//
// The AVX-512 micro-kernel (see kernel6x32 in kernel6x32_amd64.go), the
// AVX2 one (kernel6x16_amd64.s) at twice the width: twelve ZMM
// accumulators Z0–Z11 (row r in Z2r, Z2r+1), the two B vectors of a k step
// in Z12, Z13 and the broadcast A values in Z14, Z15. The strides are in
// elements; they are scaled to bytes here. For each of the taps offsets
// (elements) at offs, kc k steps with B from b + offs[t]; A runs on from
// one tap to the next; then rbias[r] (six values) is added to row r unless
// rbias is nil. kc >= 1, taps >= 1, 1 <= rows <= 6 and 1 <= cols <= 32; a
// tile narrower than 32 is read and written under the opmasks K1 (columns
// 0–15) and K2 (16–31), whose masked-off lanes do not touch memory.
//
// As in the AVX2 kernel, the k loop runs two steps per iteration and each
// step prefetches the B row 16 steps ahead (R14 = 16 B strides; a row of 32
// values is two cache lines), and the C tile is prefetched before the loop.

// STEP is one k step: the two B vectors times the six A values.
#define STEP \
	PREFETCHT0 (DI)(R14*1) \
	PREFETCHT0 64(DI)(R14*1) \
	VMOVUPS (DI), Z12 \
	VMOVUPS 64(DI), Z13 \
	VBROADCASTSS (SI), Z14 \
	VFMADD231PS Z12, Z14, Z0 \
	VFMADD231PS Z13, Z14, Z1 \
	VBROADCASTSS (SI)(R8*1), Z15 \
	VFMADD231PS Z12, Z15, Z2 \
	VFMADD231PS Z13, Z15, Z3 \
	VBROADCASTSS (SI)(R8*2), Z14 \
	VFMADD231PS Z12, Z14, Z4 \
	VFMADD231PS Z13, Z14, Z5 \
	VBROADCASTSS (SI)(R11*1), Z15 \
	VFMADD231PS Z12, Z15, Z6 \
	VFMADD231PS Z13, Z15, Z7 \
	VBROADCASTSS (SI)(R8*4), Z14 \
	VFMADD231PS Z12, Z14, Z8 \
	VFMADD231PS Z13, Z14, Z9 \
	VBROADCASTSS (SI)(R12*1), Z15 \
	VFMADD231PS Z12, Z15, Z10 \
	VFMADD231PS Z13, Z15, Z11 \
	ADDQ R9, SI \
	ADDQ R10, DI

// PREFETCHC prefetches the 128 bytes of a C row at CX (two or three lines)
// and moves CX to the next row.
#define PREFETCHC \
	PREFETCHT0 (CX) \
	PREFETCHT0 64(CX) \
	PREFETCHT0 124(CX) \
	ADDQ DI, CX

TEXT ·kernel6x32(SB), NOSPLIT, $0-120
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
	MOVQ c+48(FP), CX
	MOVQ ldc+56(FP), DI
	SHLQ $2, DI
	PREFETCHC
	PREFETCHC
	PREFETCHC
	PREFETCHC
	PREFETCHC
	PREFETCHC

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

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
	VBROADCASTSS (AX), Z12
	VADDPS Z12, Z0, Z0
	VADDPS Z12, Z1, Z1
	VBROADCASTSS 4(AX), Z12
	VADDPS Z12, Z2, Z2
	VADDPS Z12, Z3, Z3
	VBROADCASTSS 8(AX), Z12
	VADDPS Z12, Z4, Z4
	VADDPS Z12, Z5, Z5
	VBROADCASTSS 12(AX), Z12
	VADDPS Z12, Z6, Z6
	VADDPS Z12, Z7, Z7
	VBROADCASTSS 16(AX), Z12
	VADDPS Z12, Z8, Z8
	VADDPS Z12, Z9, Z9
	VBROADCASTSS 20(AX), Z12
	VADDPS Z12, Z10, Z10
	VADDPS Z12, Z11, Z11

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
	CMPQ R9, $32
	JLT  partial
	TESTQ BX, BX
	JZ   row0
	VMOVUPS (BX), Z12
	VMOVUPS 64(BX), Z13

#define ROW(lo, hi) \
	TESTQ AX, AX \
	JZ   3(PC) \
	VADDPS (DX), lo, lo \
	VADDPS 64(DX), hi, hi \
	TESTQ BX, BX \
	JZ   3(PC) \
	VADDPS Z12, lo, lo \
	VADDPS Z13, hi, hi \
	VMOVUPS lo, (DX) \
	VMOVUPS hi, 64(DX) \
	ADDQ R8, DX \
	DECQ CX \
	JZ   done

row0:
	ROW(Z0, Z1)
	ROW(Z2, Z3)
	ROW(Z4, Z5)
	ROW(Z6, Z7)
	ROW(Z8, Z9)
	ROW(Z10, Z11)

done:
	VZEROUPPER
	RET

partial:
	// K1, K2 = the low and high 16 bits of 2^cols − 1.
	MOVQ CX, R12 // rows: SHLQ takes its count in CX
	MOVQ R9, CX
	MOVQ $1, R9
	SHLQ CX, R9
	DECQ R9
	MOVQ R12, CX
	KMOVW R9, K1
	SHRQ $16, R9
	KMOVW R9, K2
	TESTQ BX, BX
	JZ   prow0
	VMOVUPS.Z (BX), K1, Z12
	VMOVUPS.Z 64(BX), K2, Z13
	VADDPS Z12, Z0, Z0
	VADDPS Z13, Z1, Z1
	VADDPS Z12, Z2, Z2
	VADDPS Z13, Z3, Z3
	VADDPS Z12, Z4, Z4
	VADDPS Z13, Z5, Z5
	VADDPS Z12, Z6, Z6
	VADDPS Z13, Z7, Z7
	VADDPS Z12, Z8, Z8
	VADDPS Z13, Z9, Z9
	VADDPS Z12, Z10, Z10
	VADDPS Z13, Z11, Z11

#define PROW(lo, hi) \
	TESTQ AX, AX \
	JZ   5(PC) \
	VMOVUPS.Z (DX), K1, Z12 \
	VMOVUPS.Z 64(DX), K2, Z13 \
	VADDPS Z12, lo, lo \
	VADDPS Z13, hi, hi \
	VMOVUPS lo, K1, (DX) \
	VMOVUPS hi, K2, 64(DX) \
	ADDQ R8, DX \
	DECQ CX \
	JZ   done

prow0:
	PROW(Z0, Z1)
	PROW(Z2, Z3)
	PROW(Z4, Z5)
	PROW(Z6, Z7)
	PROW(Z8, Z9)
	PROW(Z10, Z11)
	JMP  done
