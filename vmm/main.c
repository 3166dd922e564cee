#include <stdio.h>

int main(void)
{
	fprintf(stderr, "microvm: not yet\n");
	return 1;
}
