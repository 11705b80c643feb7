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

// func LinesL2(p unsafe.Pointer, n int)
TEXT ·LinesL2(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JLE  l2done

l2loop:
	PREFETCHT1 (AX)
	ADDQ $64, AX
	DECQ CX
	JNZ  l2loop

l2done:
	RET
