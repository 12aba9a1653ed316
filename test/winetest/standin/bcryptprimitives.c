/*
 * bcryptprimitives.c: a stand-in for Windows' bcryptprimitives.dll, which
 * Wine 8 lacks. Go >= 1.22 loads it at start-up for ProcessPrng, its
 * source of randomness, and a Go .exe dies at once without it ("fatal
 * error: bcryptprimitives.dll not found"). test/winetest builds this
 * with mingw-w64 and puts it in a test prefix's system32; it is never
 * shipped (real Windows 10 and later have the DLL).
 *
 * The bytes are real randomness: RtlGenRandom (advapi32's SystemFunction036),
 * which Wine serves from the host's /dev/urandom.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll \
 *       bcryptprimitives.c bcryptprimitives.def -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* ProcessPrng fills data with size random bytes. It is documented never to
 * fail, and returns TRUE; here a failure of RtlGenRandom (which only a
 * broken prefix would show) returns FALSE rather than leave the buffer
 * unfilled as if it were random. RtlGenRandom takes a ULONG length, so a
 * larger request goes in pieces. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
	while (size > 0) {
		ULONG n = size > 0x10000000 ? 0x10000000 : (ULONG)size;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		size -= n;
	}
	return TRUE;
}
