//go:build goexperiment.simd && amd64

#include "textflag.h"

// func kernel6x16(kc int, a *float32, rsa, csa int, b *float32, sb int, c *float32, ldc int, add bool, bias *float32, rows int)
//
// The AVX2 micro-kernel (see kernel6x16 in simd256_amd64.go): twelve YMM
// accumulators Y0–Y11 (row r in Y2r, Y2r+1), the two B vectors of a k step
// in Y12, Y13 and the broadcast A value in Y14. The strides are in elements;
// they are scaled to bytes here. kc >= 1 and 1 <= rows <= 6.
TEXT ·kernel6x16(SB), NOSPLIT, $0-88
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rsa+16(FP), R8
	MOVQ csa+24(FP), R9
	MOVQ b+32(FP), DI
	MOVQ sb+40(FP), R10
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10
	LEAQ (R8)(R8*2), R11 // 3 rows
	LEAQ (R8)(R8*4), R12 // 5 rows

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

loop:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VBROADCASTSS (SI)(R8*1), Y15
	VFMADD231PS Y12, Y15, Y2
	VFMADD231PS Y13, Y15, Y3
	VBROADCASTSS (SI)(R8*2), Y14
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VBROADCASTSS (SI)(R11*1), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VBROADCASTSS (SI)(R8*4), Y14
	VFMADD231PS Y12, Y14, Y8
	VFMADD231PS Y13, Y14, Y9
	VBROADCASTSS (SI)(R12*1), Y15
	VFMADD231PS Y12, Y15, Y10
	VFMADD231PS Y13, Y15, Y11
	ADDQ R9, SI
	ADDQ R10, DI
	DECQ CX
	JNZ  loop

	// Write the first rows rows: per row, add C's previous value when
	// add, the bias when not nil, and store.
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R8
	MOVBLZX add+64(FP), AX
	MOVQ bias+72(FP), BX
	MOVQ rows+80(FP), CX
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
