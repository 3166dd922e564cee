/*
 * A tiny PVH kernel for host tests on any KVM (this paravirtual one
 * included): flat 32-bit code that prints "PVH-TINY hello" on the serial
 * port, then by MODE (as --defsym MODE=N):
 *   0  resets through the i8042 (the VMM exits 0);
 *   1  halts with interrupts off (waits for a signal to the VMM);
 *   2  echoes what arrives on the serial port, control bytes as ^X, and
 *      resets on 'q';
 *   3  prints 1000 lines of 64 bytes, then resets (a chatty console);
 *   4  counts: writes a pattern into the first dword of each 4 KiB page
 *      of [4 MiB, 20 MiB), then forever: a busy delay, a check of the
 *      whole pattern ("PATTERN-BAD" and a reset if any page differs), the
 *      counter at 2 MiB incremented and printed as "TICK xxxxxxxx" (hex).
 *      For snapshot tests: a restored guest goes on from its count, with
 *      its memory intact (needs --mem 32M or more).
 *   5  counts as 4, and before each tick reads the balloon's target
 *      (num_pages, config offset 0 of the first virtio-mmio device at
 *      0xc0001000: run with --balloon as the only virtio device); when it
 *      is not 0, reads a dword of the 2 MiB page at 20 MiB + 2 MiB *
 *      (num_pages / 256 % 4): memory the guest never touched otherwise, on
 *      demand from the host (`ctl SOCK balloon set MIB`).
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
.if MODE >= 4			/* count in memory, check a pattern */
	mov $0x400000, %edi
	xor %ebx, %ebx
10:	mov %ebx, %eax
	xor $0x5a5a5a5a, %eax
	mov %eax, (%edi)
	add $0x1000, %edi
	inc %ebx
	cmp $0x1000, %ebx
	jb 10b
	movl $0, 0x200000
11:
.if MODE == 5			/* touch a page the host asks for */
	mov 0xc0001100, %eax
	test %eax, %eax
	jz 19f
	shr $8, %eax
	and $3, %eax
	shl $21, %eax
	mov 0x1400000(%eax), %eax
19:
.endif
	mov $400000, %ecx	/* delay */
12:	dec %ecx
	jnz 12b
	mov $0x400000, %edi	/* check every page's pattern */
	xor %ebx, %ebx
13:	mov %ebx, %eax
	xor $0x5a5a5a5a, %eax
	cmp %eax, (%edi)
	jne 16f
	add $0x1000, %edi
	inc %ebx
	cmp $0x1000, %ebx
	jb 13b
	incl 0x200000
	mov $0x3f8, %dx
	mov $tick, %esi
14:	lodsb
	test %al, %al
	jz 15f
	out %al, (%dx)
	jmp 14b
15:	mov 0x200000, %ebp
	mov $8, %ecx
17:	rol $4, %ebp
	mov %ebp, %ebx
	and $0xf, %ebx
	movb hexdig(%ebx), %al
	out %al, (%dx)
	loop 17b
	mov $'\n', %al
	out %al, (%dx)
	jmp 11b
16:	mov $0x3f8, %dx
	mov $bad, %esi
18:	lodsb
	test %al, %al
	jz 6f
	out %al, (%dx)
	jmp 18b
.endif
6:	mov $0xfe, %al		/* i8042 reset */
	out %al, $0x64
	hlt
	jmp 6b
msg:	.asciz "PVH-TINY hello\n"
tick:	.asciz "TICK "
bad:	.asciz "PATTERN-BAD\n"
hexdig:	.ascii "0123456789abcdef"
line:	.asciz "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"
