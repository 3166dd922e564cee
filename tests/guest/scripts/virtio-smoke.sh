# virtio smoke test: the disk and the entropy device are there and work.
[ -b /dev/vda ] && echo "MICROVM-VDA present"
[ -c /dev/hwrng ] && echo "MICROVM-RNG $(head -c 16 /dev/hwrng | od -An -tx1 | tr -d ' \n')"
echo "MICROVM-DISK-WRITE marker-7731" | dd of=/dev/vda bs=512 conv=sync,notrunc 2>/dev/null
sync
echo "MICROVM-DISK-READ $(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 31)"
