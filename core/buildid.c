/* core/buildid.c — reads NT_GNU_BUILD_ID notes (ember/buildid.h) with
 * libelf from files, open ELF handles and /sys/kernel/notes. Owns no state;
 * called once per binary (the process table and the symbolizer cache the
 * results), never per sample. */
#include "ember/buildid.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

void ember_buildid_hex(const unsigned char *id, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	if (n > EMBER_BUILD_ID_MAX)
		n = EMBER_BUILD_ID_MAX;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * n] = '\0';
}

static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

int ember_buildid_from_notes(const void *notes, size_t len, char out[EMBER_BUILD_ID_HEX])
{
	const unsigned char *p = notes;
	size_t off = 0;
	while (len - off >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, p + off, 4);
		memcpy(&descsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		off += 12;
		size_t name_end = off + align4(namesz);
		if (namesz > len || name_end > len || descsz > len - name_end)
			return -EINVAL;
		const unsigned char *name = p + off, *desc = p + name_end;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
		    descsz > 0 && descsz <= EMBER_BUILD_ID_MAX) {
			ember_buildid_hex(desc, descsz, out);
			return 0;
		}
		off = name_end + align4(descsz);
		if (off > len)
			break;
	}
	return -ENOENT;
}

int ember_buildid_of_elf(struct Elf *elf, char out[EMBER_BUILD_ID_HEX])
{
	out[0] = '\0';
	for (Elf_Scn *scn = NULL; elf && (scn = elf_nextscn(elf, scn));) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;
		while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((const char *)data->d_buf + name_off, "GNU", 4) != 0)
				continue;
			if (nh.n_descsz == 0 || nh.n_descsz > EMBER_BUILD_ID_MAX)
				return -ENOENT;
			const unsigned char *desc = (const unsigned char *)data->d_buf + desc_off;
			ember_buildid_hex(desc, nh.n_descsz, out);
			return 0;
		}
	}
	return -ENOENT;
}

int ember_buildid_read_file(const char *path, char out[EMBER_BUILD_ID_HEX])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	int rc = -ENOENT;
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		rc = -EINVAL;
		goto out;
	}
	size_t nph = 0;
	if (elf_getphdrnum(elf, &nph) == 0) {
		for (size_t i = 0; i < nph && rc < 0; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
				continue;
			Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
							   ELF_T_BYTE);
			if (d && d->d_buf)
				rc = ember_buildid_from_notes(d->d_buf, d->d_size, out);
		}
	}
	if (rc < 0)
		rc = ember_buildid_of_elf(elf, out);
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}

int ember_buildid_read_kernel(char out[EMBER_BUILD_ID_HEX])
{
	int fd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unsigned char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	return ember_buildid_from_notes(buf, (size_t)n, out);
}
