#!/bin/sh
# Free page reporting (tests/boot/cases-balloon.sh, scripts/bench-balloon):
# let boot-time reporting settle, allocate and touch 256 MiB and hold it
# while the host measures, free it, wait while the host watches it come
# back, then allocate it again. Lines for the host side:
#   BL-STAGE settle|hog|freed|realloc
#   MEMHOG ... (from /bin/memhog)
#   BL-REALLOC ok|fail
echo "BL-STAGE settle"
sleep 6
echo "BL-STAGE hog"
memhog 256 6 || echo "BL-HOG fail"
echo "BL-STAGE freed"
sleep 20
echo "BL-STAGE realloc"
if memhog 256; then
	echo "BL-REALLOC ok"
else
	echo "BL-REALLOC fail"
fi
