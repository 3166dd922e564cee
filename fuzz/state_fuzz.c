/*
 * libFuzzer target for snapshot state files (vmm/snapshot.h): any bytes
 * give 0 or -EINVAL with a reason, never a crash or a read out of bounds.
 * The first input byte picks the mode: even, the rest is a whole file as
 * it is; odd, the rest is a payload given a valid header (magic, version,
 * length and CRC), so the fuzzer reaches the records instead of stopping
 * at the CRC. A state that decodes must encode back to the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct snapshot_state fuzz_state, fuzz_again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *file, *enc = NULL;
	size_t len, enc_len = 0;
	char err[256];
	int ret;

	if (!size)
		return 0;
	if (data[0] & 1) {
		uint64_t plen = size - 1;
		uint32_t v = SNAPSHOT_VERSION, crc;

		len = 24 + plen;
		file = malloc(len);
		if (!file)
			return 0;
		memcpy(file, SNAPSHOT_MAGIC, 8);
		memcpy(file + 8, &v, 4);
		crc = snapshot_crc32(data + 1, plen);
		memcpy(file + 12, &crc, 4);
		memcpy(file + 16, &plen, 8);
		memcpy(file + 24, data + 1, plen);
	} else {
		len = size - 1;
		file = malloc(len ? len : 1);
		if (!file)
			return 0;
		memcpy(file, data + 1, len);
	}
	err[0] = '\0';
	ret = snapshot_state_decode(file, len, &fuzz_state, err, sizeof(err));
	if (ret && (ret != -EINVAL || !err[0]))
		abort(); /* every refusal says why */
	if (!ret) {
		if (snapshot_state_encode(&fuzz_state, &enc, &enc_len))
			abort();
		if (enc_len != len || memcmp(enc, file, len)) {
			/* Padding inside KVM structs is kept as read, so
			 * the bytes must match exactly. */
			abort();
		}
		if (snapshot_state_decode(enc, enc_len, &fuzz_again, err,
					  sizeof(err)))
			abort();
		snapshot_state_free(&fuzz_again);
		free(enc);
	}
	snapshot_state_free(&fuzz_state);
	free(file);
	return 0;
}
