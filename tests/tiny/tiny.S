/*
 * A tiny PVH kernel for host tests on any KVM (this paravirtual one
 * included): flat 32-bit code that prints "PVH-TINY hello" on the serial
 * port, then by MODE (as --defsym MODE=N):
 *   0  resets through the i8042 (the VMM exits 0);
 *   1  halts with interrupts off (waits for a signal to the VMM);
 *   2  echoes what arrives on the serial port, control bytes as ^X, and
 *      resets on 'q';
 *   3  prints 1000 lines of 64 bytes, then resets (a chatty console).
 * Built by tests/tiny/build.sh.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 4, 18		/* name size, desc size, PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long _start
	.balign 4

	.text
	.code32
	.globl _start
_start:
	mov $0x3f8, %dx
	mov $msg, %esi
1:	lodsb
	test %al, %al
	jz 2f
	out %al, (%dx)
	jmp 1b
2:
.if MODE == 3			/* 1000 lines of 64 bytes, then reset */
	mov $1000, %ecx
7:	mov $line, %esi
8:	lodsb
	test %al, %al
	jz 9f
	out %al, (%dx)
	jmp 8b
9:	loop 7b
.endif
.if MODE == 1			/* hang: wait for a signal to the VMM */
	cli
3:	hlt
	jmp 3b
.endif
.if MODE == 2			/* echo typed bytes, control bytes as ^X; q resets */
4:	mov $0x3fd, %dx
	in (%dx), %al
	test $1, %al
	jz 4b
	mov $0x3f8, %dx
	in (%dx), %al
	cmp $'q', %al
	je 6f
	cmp $0x20, %al
	jae 5f
	mov %al, %bl
	mov $'^', %al
	out %al, (%dx)
	mov %bl, %al
	add $0x40, %al
5:	out %al, (%dx)
	jmp 4b
.endif
6:	mov $0xfe, %al		/* i8042 reset */
	out %al, $0x64
	hlt
	jmp 6b
msg:	.asciz "PVH-TINY hello\n"
line:	.asciz "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"
