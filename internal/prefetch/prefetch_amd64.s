#include "textflag.h"

// func Lines(p unsafe.Pointer, n int)
TEXT ·Lines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JLE  ldone

lloop:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	DECQ CX
	JNZ  lloop

ldone:
	RET

// func Rows(base unsafe.Pointer, stride uintptr, ids []uint32, n int)
TEXT ·Rows(SB), NOSPLIT, $0-48
	MOVQ base+0(FP), SI
	MOVQ stride+8(FP), R8
	MOVQ ids_base+16(FP), DI
	MOVQ ids_len+24(FP), CX
	MOVQ n+40(FP), R9
	TESTQ CX, CX
	JZ   rdone
	TESTQ R9, R9
	JLE  rdone

row:
	MOVLQZX (DI), AX
	IMULQ R8, AX
	ADDQ SI, AX
	MOVQ R9, DX

line:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	DECQ DX
	JNZ  line
	ADDQ $4, DI
	DECQ CX
	JNZ  row

rdone:
	RET
