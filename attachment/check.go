// Package attachment checks, stores and serves files uploaded to
// conversations (C4). Files are only ever stored and served as they are:
// archives are never unpacked and images are never decoded.
package attachment

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard/switchboard"
)

// HeadSize is how many leading bytes of a file Check needs (tar's magic sits at offset 257).
const HeadSize = 512

// MaxNameLen is the longest file name accepted, in bytes.
const MaxNameLen = 255

// Extensions returns the allowed file extensions (C4), lower case and sorted.
func Extensions() []string {
	return []string{
		"7z", "avi", "bmp", "cfg", "csv", "doc", "docx", "gif", "gz", "jpeg", "jpg",
		"json", "mkv", "mov", "mp3", "mp4", "pcap", "pdf", "pgp", "png", "psd", "rar",
		"svg", "tar", "tgz", "tif", "tiff", "txt", "wav", "webm", "wmv", "xls", "xlsx",
		"xml", "zip",
	}
}

// fileType is what an allowed extension promises: the type it is served as
// and a test its first bytes must pass.
type fileType struct {
	contentType string
	matches     func(head []byte) bool
}

// typeOf returns the file type of a lower-case extension and whether the
// extension is allowed. A switch rather than a map keeps the table immutable.
func typeOf(ext string) (fileType, bool) {
	switch ext {
	case "7z":
		return fileType{"application/x-7z-compressed", prefix("7z\xbc\xaf\x27\x1c")}, true
	case "avi":
		return fileType{"video/x-msvideo", isRIFF("AVI ")}, true
	case "bmp":
		return fileType{"image/bmp", isBMP}, true
	case "cfg", "txt":
		return fileType{"text/plain; charset=utf-8", isText}, true
	case "csv":
		return fileType{"text/csv", isText}, true
	case "doc":
		return fileType{"application/msword", isOLE}, true
	case "docx":
		return fileType{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", isZip}, true
	case "gif":
		return fileType{"image/gif", prefix("GIF87a", "GIF89a")}, true
	case "gz", "tgz":
		return fileType{"application/gzip", prefix("\x1f\x8b\x08")}, true
	case "jpg", "jpeg":
		return fileType{"image/jpeg", prefix("\xff\xd8\xff")}, true
	case "json":
		return fileType{"application/json", isJSON}, true
	case "mkv":
		return fileType{"video/x-matroska", prefix("\x1a\x45\xdf\xa3")}, true
	case "mov":
		return fileType{"video/quicktime", isQuickTime}, true
	case "mp3":
		return fileType{"audio/mpeg", isMP3}, true
	case "mp4":
		return fileType{"video/mp4", isISOMedia}, true
	case "pcap":
		return fileType{"application/vnd.tcpdump.pcap", isPcap}, true
	case "pdf":
		return fileType{"application/pdf", prefix("%PDF-")}, true
	case "pgp":
		return fileType{"application/pgp-encrypted", isPGP}, true
	case "png":
		return fileType{"image/png", prefix("\x89PNG\r\n\x1a\n")}, true
	case "psd":
		return fileType{"image/vnd.adobe.photoshop", prefix("8BPS\x00\x01", "8BPS\x00\x02")}, true
	case "rar":
		return fileType{"application/vnd.rar", prefix("Rar!\x1a\x07\x00", "Rar!\x1a\x07\x01\x00")}, true
	case "svg":
		return fileType{"image/svg+xml", isSVG}, true
	case "tar":
		return fileType{"application/x-tar", isTar}, true
	case "tif", "tiff":
		return fileType{"image/tiff", prefix("II*\x00", "MM\x00*", "II+\x00", "MM\x00+")}, true
	case "wav":
		return fileType{"audio/wav", isRIFF("WAVE")}, true
	case "webm":
		return fileType{"video/webm", prefix("\x1a\x45\xdf\xa3")}, true
	case "wmv":
		return fileType{"video/x-ms-wmv", prefix("\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c")}, true
	case "xls":
		return fileType{"application/vnd.ms-excel", isOLE}, true
	case "xlsx":
		return fileType{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", isZip}, true
	case "xml":
		return fileType{"application/xml", isXML}, true
	case "zip":
		return fileType{"application/zip", isZip}, true
	}
	return fileType{}, false
}

// Check returns the content type of a file whose name is allowed and whose first HeadSize bytes, head, match its extension.
func Check(fileName string, head []byte) (contentType string, err error) {
	name, err := CleanName(fileName)
	if err != nil {
		return "", err
	}
	ext := Ext(name)
	ft, ok := typeOf(ext)
	if !ok {
		return "", notAllowed(ext)
	}
	if isExecutable(head) {
		return "", switchboard.Errorf(switchboard.EUNSUPPORTED, "Programs cannot be uploaded, whatever their extension.")
	}
	if !ft.matches(head) {
		return "", switchboard.Errorf(switchboard.EUNSUPPORTED, "The file content does not match its .%s extension.", ext)
	}
	return ft.contentType, nil
}

// Ext returns the lower-case ASCII extension after the last dot of name, or "" if there is none.
func Ext(name string) string {
	// A non-ASCII extension counts as none: Unicode case folding would turn
	// "m\u212Av" (Kelvin sign) into an allowed "mkv".
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ""
	}
	ext := name[i+1:]
	for j := 0; j < len(ext); j++ {
		if ext[j] >= utf8.RuneSelf {
			return ""
		}
	}
	return strings.ToLower(ext)
}

// notAllowed is the error for an extension outside the allow-list.
func notAllowed(ext string) error {
	allowed := strings.Join(Extensions(), ", ")
	if ext == "" {
		return switchboard.Errorf(switchboard.EUNSUPPORTED, "Files without an extension are not allowed. Allowed types: %s.", allowed)
	}
	return switchboard.Errorf(switchboard.EUNSUPPORTED, "Files of type .%s are not allowed. Allowed types: %s.", ext, allowed)
}

// CleanName returns the base name of name without control characters, refusing empty, NUL, non-UTF-8 and over-long names.
func CleanName(name string) (string, error) {
	// Bidirectional overrides go with the control characters: they make
	// "invoice\u202Egpj.exe" read as "invoiceexe.jpg".
	if strings.IndexByte(name, 0) >= 0 {
		return "", switchboard.Errorf(switchboard.EINVALID, "The file name contains a NUL byte.")
	}
	if !utf8.ValidString(name) {
		return "", switchboard.Errorf(switchboard.EINVALID, "The file name is not valid UTF-8.")
	}
	name = baseName(name)
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		return "", switchboard.Errorf(switchboard.EINVALID, "The file name is empty.")
	}
	if len(name) > MaxNameLen {
		return "", switchboard.Errorf(switchboard.EINVALID, "The file name is longer than %d bytes.", MaxNameLen)
	}
	return name, nil
}

// baseName keeps what follows the last slash or backslash: browsers and
// clients on every OS may send either.
func baseName(name string) string {
	return name[strings.LastIndexAny(name, `/\`)+1:]
}

// isBidiControl reports the characters that reorder text on screen, which
// disguise names such as "invoice\u202Egpj.exe".
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f',
		r >= '\u202a' && r <= '\u202e',
		r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// isExecutable reports native programs (ELF, Mach-O, PE), refused under any
// name. "MZ" alone is a PE only when the rest is not text, so a text file
// that happens to begin with those letters is not refused.
func isExecutable(head []byte) bool {
	for _, magic := range []string{
		"\x7fELF",
		"\xfe\xed\xfa\xce", "\xfe\xed\xfa\xcf", "\xce\xfa\xed\xfe", "\xcf\xfa\xed\xfe", // Mach-O
		"\xca\xfe\xba\xbe", "\xbe\xba\xfe\xca", // Mach-O universal (and Java classes)
	} {
		if bytes.HasPrefix(head, []byte(magic)) {
			return true
		}
	}
	return bytes.HasPrefix(head, []byte("MZ")) && !isText(head)
}

// prefix returns a test that head starts with one of the magics.
func prefix(magics ...string) func([]byte) bool {
	return func(head []byte) bool {
		for _, m := range magics {
			if bytes.HasPrefix(head, []byte(m)) {
				return true
			}
		}
		return false
	}
}

// isRIFF returns a test for a RIFF (or RF64) container of the given form.
func isRIFF(form string) func([]byte) bool {
	return func(head []byte) bool {
		return len(head) >= 12 &&
			(string(head[:4]) == "RIFF" || string(head[:4]) == "RF64") &&
			string(head[8:12]) == form
	}
}

func isZip(head []byte) bool { return prefix("PK\x03\x04", "PK\x05\x06")(head) }

func isOLE(head []byte) bool { return prefix("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")(head) }

// isBMP checks the "BM" magic and a known DIB header size, as two bytes
// alone are too common.
func isBMP(head []byte) bool {
	if len(head) < 18 || string(head[:2]) != "BM" {
		return false
	}
	switch uint32(head[14]) | uint32(head[15])<<8 | uint32(head[16])<<16 | uint32(head[17])<<24 {
	case 12, 16, 40, 52, 56, 64, 108, 124:
		return true
	}
	return false
}

// isISOMedia reports an ISO base media file (MP4 and relatives): a box of
// type "ftyp" first.
func isISOMedia(head []byte) bool {
	return len(head) >= 8 && string(head[4:8]) == "ftyp"
}

// isQuickTime accepts an ftyp box or the top-level atoms older QuickTime
// files begin with.
func isQuickTime(head []byte) bool {
	if len(head) < 8 {
		return false
	}
	switch string(head[4:8]) {
	case "ftyp", "moov", "wide", "mdat", "free", "skip", "pnot":
		return true
	}
	return false
}

// isMP3 accepts an ID3v2 tag or an MPEG audio frame header with valid
// version, layer, bit rate and sample rate fields.
func isMP3(head []byte) bool {
	if bytes.HasPrefix(head, []byte("ID3")) {
		return true
	}
	if len(head) < 3 || head[0] != 0xff || head[1]&0xe0 != 0xe0 {
		return false
	}
	version := head[1] >> 3 & 3
	layer := head[1] >> 1 & 3
	bitrate := head[2] >> 4
	rate := head[2] >> 2 & 3
	return version != 1 && layer != 0 && bitrate != 15 && rate != 3
}

// isPcap accepts classic pcap (both byte orders, micro- and nanosecond) and
// pcapng, whose section header carries a byte-order magic at offset 8.
func isPcap(head []byte) bool {
	if prefix("\xa1\xb2\xc3\xd4", "\xd4\xc3\xb2\xa1", "\xa1\xb2\x3c\x4d", "\x4d\x3c\xb2\xa1")(head) {
		return true
	}
	return len(head) >= 12 && string(head[:4]) == "\x0a\x0d\x0d\x0a" &&
		(string(head[8:12]) == "\x1a\x2b\x3c\x4d" || string(head[8:12]) == "\x4d\x3c\x2b\x1a")
}

// isTar accepts a POSIX or GNU header ("ustar" at offset 257) or an old
// V7 header whose checksum is right.
func isTar(head []byte) bool {
	if len(head) < 512 {
		return false
	}
	if string(head[257:262]) == "ustar" {
		return true
	}
	return tarChecksumOK(head[:512])
}

// tarChecksumOK verifies the octal checksum of a tar header block: the sum
// of its bytes with the checksum field counted as spaces.
func tarChecksumOK(block []byte) bool {
	field := bytes.Trim(block[148:156], " \x00")
	if len(field) == 0 {
		return false
	}
	var want int64
	for _, c := range field {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	var got int64
	for i, c := range block {
		if i >= 148 && i < 156 {
			c = ' '
		}
		got += int64(c)
	}
	// An all-zero block would pass with 256; it is not a header.
	return got == want && got != 8*' '
}

// isPGP accepts ASCII armour or binary OpenPGP data, whose first byte is a
// packet tag (high bit set) of a packet that can start a message or key.
func isPGP(head []byte) bool {
	if t := trimText(head); bytes.HasPrefix(t, []byte("-----BEGIN PGP ")) {
		return isText(head)
	}
	if len(head) == 0 || head[0]&0x80 == 0 {
		return false
	}
	tag := head[0] & 0x3f // new format
	if head[0]&0x40 == 0 {
		tag = head[0] >> 2 & 0x0f // old format
	}
	switch tag {
	case 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14, 18:
		return true
	}
	return false
}

// isText reports UTF-8 text without NUL bytes. The head may end in the
// middle of a character, so an incomplete last sequence is accepted.
func isText(head []byte) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	for len(head) > 0 {
		r, size := utf8.DecodeRune(head)
		if r == utf8.RuneError && size == 1 {
			return len(head) < utf8.UTFMax && !utf8.FullRune(head) && utf8.RuneStart(head[0])
		}
		head = head[size:]
	}
	return true
}

// trimText drops a UTF-8 byte-order mark and leading white space.
func trimText(head []byte) []byte {
	return bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
}

// isJSON accepts text whose first character can begin a JSON value.
func isJSON(head []byte) bool {
	t := trimText(head)
	return isText(head) && len(t) > 0 && strings.IndexByte(`{["-0123456789tfn`, t[0]) >= 0
}

// isXML accepts text that begins with markup.
func isXML(head []byte) bool {
	t := trimText(head)
	return isText(head) && len(t) > 0 && t[0] == '<'
}

// isSVG accepts XML that is not an HTML page wearing an .svg name.
func isSVG(head []byte) bool {
	if !isXML(head) {
		return false
	}
	t := bytes.ToLower(trimText(head))
	return !bytes.HasPrefix(t, []byte("<!doctype html")) && !bytes.HasPrefix(t, []byte("<html"))
}
