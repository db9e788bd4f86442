package attachment

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard/switchboard"
)

func TestExtensionsAreTheC4AllowList(t *testing.T) {
	want := strings.Fields("7z avi bmp cfg csv doc docx gif gz jpg jpeg json mkv mov mp3 mp4 pcap pdf pgp png psd rar svg tar tgz tif tiff txt wav webm wmv xls xlsx xml zip")
	got := Extensions()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Extensions() = %v, want %v", got, want)
	}
	for _, ext := range got {
		if _, ok := typeOf(ext); !ok {
			t.Errorf("typeOf(%q) not allowed", ext)
		}
	}
}

func TestCheckAcceptsEveryAllowedType(t *testing.T) {
	wantTypes := map[string]string{
		"7z": "application/x-7z-compressed", "avi": "video/x-msvideo", "bmp": "image/bmp",
		"cfg": "text/plain; charset=utf-8", "csv": "text/csv", "doc": "application/msword",
		"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"gif":  "image/gif", "gz": "application/gzip", "jpeg": "image/jpeg", "jpg": "image/jpeg",
		"json": "application/json", "mkv": "video/x-matroska", "mov": "video/quicktime",
		"mp3": "audio/mpeg", "mp4": "video/mp4", "pcap": "application/vnd.tcpdump.pcap",
		"pdf": "application/pdf", "pgp": "application/pgp-encrypted", "png": "image/png",
		"psd": "image/vnd.adobe.photoshop", "rar": "application/vnd.rar", "svg": "image/svg+xml",
		"tar": "application/x-tar", "tgz": "application/gzip", "tif": "image/tiff", "tiff": "image/tiff",
		"txt": "text/plain; charset=utf-8", "wav": "audio/wav", "webm": "video/webm",
		"wmv": "video/x-ms-wmv", "xls": "application/vnd.ms-excel",
		"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"xml":  "application/xml", "zip": "application/zip",
	}
	all := samples(t)
	for _, ext := range Extensions() {
		t.Run(ext, func(t *testing.T) {
			sample, ok := all[ext]
			if !ok {
				t.Fatalf("no sample for .%s", ext)
			}
			for _, name := range []string{"file." + ext, "FILE." + strings.ToUpper(ext), "my.report.v2." + ext} {
				got, err := Check(name, head(sample))
				if err != nil {
					t.Fatalf("Check(%q) error: %v", name, err)
				}
				if want := wantTypes[ext]; got != want {
					t.Errorf("Check(%q) = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// head is what Save hands to Check: at most HeadSize bytes.
func head(b []byte) []byte { return b[:min(len(b), HeadSize)] }

func TestCheckAcceptsVariants(t *testing.T) {
	tests := []struct {
		name string
		head []byte
	}{
		{"empty.zip", []byte("PK\x05\x06" + strings.Repeat("\x00", 18))},
		{"capture.pcap", pcapngSample()},
		{"capture.pcap", []byte("\xa1\xb2\xc3\xd4\x00\x02\x00\x04")},
		{"capture.pcap", []byte("\x4d\x3c\xb2\xa1\x02\x00\x04\x00")},
		{"song.mp3", []byte("\xff\xfb\x90\x64\x00\x00")},
		{"old.mov", []byte("\x00\x00\x00\x08wide\x00\x00\x00\x10mdat")},
		{"old.mov", []byte("\x00\x00\x01\x00moov\x00\x00\x00\x6cmvhd")},
		{"key.pgp", []byte("\x99\x01\x0d\x04\x5f\x00\x00\x00\x01\x08\x00")},                      // old-format public key
		{"msg.pgp", []byte("\xc1\x5e\x03\x00\x00\x00\x00\x00\x00\x00\x00\x12")},                  // new-format PKESK
		{"sig.pgp", []byte("\xef\xbb\xbf\n-----BEGIN PGP SIGNATURE-----\n\niQEz\n-----END PGP")}, // BOM and blank line
		{"old.psd", []byte("8BPS\x00\x02\x00\x00")},
		{"old.rar", []byte("Rar!\x1a\x07\x00\xcf\x90\x73")},
		{"big.tif", []byte("II+\x00\x08\x00\x00\x00")},
		{"empty.txt", nil},
		{"empty.csv", []byte{}},
		{"page.txt", htmlScript}, // served as text/plain, so just text
		{"bom.json", []byte("\xef\xbb\xbf  [1, 2]")},
		{"bom.xml", []byte("\xef\xbb\xbf<root/>")},
		{"doctype.svg", []byte(`<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x"><svg/>`)},
		{"cut.txt", []byte("prix: 10 \xe2\x82")}, // the head ends inside "€"
		{"letter.txt", []byte("MZ is not a program here\n")},
		{"sound.wav", []byte("RF64\xff\xff\xff\xffWAVEds64")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Check(tt.name, tt.head); err != nil {
				t.Fatalf("Check(%q, %q) error: %v", tt.name, tt.head, err)
			}
		})
	}
}

func TestCheckRefusesDisallowedExtensions(t *testing.T) {
	for _, name := range []string{
		"setup.exe", "page.html", "page.HTM", "app.js", "run.sh", "index.php", "README", "archive.",
		"photo.png.exe", "lib.dll", "x.bat", "x.jar", "x.webp", "x.m\u212av", // Kelvin sign folds to "k"
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Check(name, []byte("hello\n"))
			if got, want := switchboard.ErrorCode(err), switchboard.EUNSUPPORTED; got != want {
				t.Fatalf("Check(%q) code = %q (%v), want %q", name, got, err, want)
			}
			msg := switchboard.ErrorMessage(err)
			if !strings.Contains(msg, "not allowed") || !strings.Contains(msg, "pdf, pgp, png") {
				t.Errorf("message %q does not say the type is not allowed and list the allowed ones", msg)
			}
		})
	}
}

func TestCheckRefusesDisguisedFiles(t *testing.T) {
	all := samples(t)
	tests := []struct {
		what string
		head []byte
		exts []string
	}{
		{"ELF", elfHeader, []string{"png", "pdf", "jpg", "txt", "pgp", "mp3", "zip"}},
		{"PE", peHeader, []string{"png", "pdf", "jpg", "txt", "csv", "pgp", "doc"}},
		{"Mach-O", machOHeader, []string{"png", "pdf", "jpg", "txt", "pgp", "mp3"}},
		{"HTML with script", htmlScript, []string{"png", "pdf", "jpg", "gif", "svg", "zip", "mp4"}},
		{"PNG", all["png"], []string{"pdf", "jpg", "gif", "txt", "svg", "zip"}},
		{"PDF", all["pdf"], []string{"png", "txt", "doc", "zip"}},
		{"ZIP", all["zip"], []string{"doc", "pdf", "txt", "gz"}},
		{"garbage", []byte{0x01, 0x02, 0x03, 0x04, 0xfe, 0x00}, []string{"png", "txt", "pgp", "mp3", "tar"}},
		{"invalid UTF-8", []byte("caf\xe9 au lait"), []string{"txt", "csv", "json", "xml"}},
		{"prose", []byte("just words"), []string{"json", "xml", "svg", "pgp"}},
	}
	for _, tt := range tests {
		for _, ext := range tt.exts {
			t.Run(tt.what+" as ."+ext, func(t *testing.T) {
				ct, err := Check("file."+ext, head(tt.head))
				if got, want := switchboard.ErrorCode(err), switchboard.EUNSUPPORTED; got != want {
					t.Fatalf("Check = %q, %v; want code %q", ct, err, want)
				}
			})
		}
	}

	t.Run("message names the extension", func(t *testing.T) {
		_, err := Check("cat.png", htmlScript)
		if got, want := switchboard.ErrorMessage(err), "does not match its .png extension"; !strings.Contains(got, want) {
			t.Errorf("message %q, want it to contain %q", got, want)
		}
	})
	t.Run("programs are named as such", func(t *testing.T) {
		_, err := Check("notes.pgp", machOHeader)
		if got := switchboard.ErrorMessage(err); !strings.Contains(got, "Programs") {
			t.Errorf("message %q, want it to say programs are refused", got)
		}
	})
}

// Every binary sample is refused under every extension that does not share
// its format, and every binary sample is refused as text.
func TestCheckSampleMatrix(t *testing.T) {
	family := map[string]string{
		"jpg": "jpeg", "jpeg": "jpeg", "gz": "gz", "tgz": "gz", "docx": "zip", "xlsx": "zip", "zip": "zip",
		"doc": "ole", "xls": "ole", "mkv": "ebml", "webm": "ebml", "tif": "tiff", "tiff": "tiff",
		"mp4": "iso", "mov": "iso",
	}
	text := map[string]bool{"txt": true, "cfg": true, "csv": true, "json": true, "xml": true, "svg": true}
	same := func(a, b string) bool {
		return a == b || family[a] != "" && family[a] == family[b]
	}
	all := samples(t)
	for from, sample := range all {
		if text[from] || from == "pgp" {
			continue
		}
		for _, to := range Extensions() {
			// Binary OpenPGP has a one-byte signature; other formats can look like it.
			if same(from, to) || to == "pgp" {
				continue
			}
			if _, err := Check("x."+to, head(sample)); err == nil {
				t.Errorf("a .%s sample passed as .%s", from, to)
			}
		}
	}
}

func TestCheckTarHeaders(t *testing.T) {
	ustar := samples(t)["tar"]
	// A V7 header has no magic, only its checksum.
	v7 := bytes.Clone(ustar[:512])
	copy(v7[257:265], make([]byte, 8))
	copy(v7[148:156], "        ")
	var sum int64
	for _, c := range v7 {
		sum += int64(c)
	}
	copy(v7[148:156], fmt.Sprintf("%06o\x00 ", sum))
	if _, err := Check("old.tar", v7); err != nil {
		t.Errorf("V7 header refused: %v", err)
	}

	tampered := bytes.Clone(v7)
	tampered[0]++
	for what, h := range map[string][]byte{
		"tampered V7 header": tampered,
		"zero block":         make([]byte, 512),
		"short head":         ustar[:300],
		"text":               bytes.Repeat([]byte("a"), 512),
	} {
		if _, err := Check("x.tar", h); err == nil {
			t.Errorf("%s passed as tar", what)
		}
	}
}

func TestCheckBMPNeedsAKnownHeader(t *testing.T) {
	b := bmpSample()
	b[14] = 41
	if _, err := Check("x.bmp", b); err == nil {
		t.Error("a BMP with a 41-byte DIB header passed")
	}
	if _, err := Check("x.bmp", []byte("BM")); err == nil {
		t.Error("\"BM\" alone passed as BMP")
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"photo.png", "photo.png"},
		{"../../etc/passwd.txt", "passwd.txt"},
		{`C:\Users\ann\Desktop\photo.PNG`, "photo.PNG"},
		{"/abs/path/x.pdf", "x.pdf"},
		{"rep\r\nort.txt", "report.txt"},
		{"tab\there.txt", "tabhere.txt"},
		{"evil\u202egnp.exe", "evilgnp.exe"},
		{"  spaced.txt  ", "spaced.txt"},
		{"résumé \"final\".pdf", "résumé \"final\".pdf"},
		{strings.Repeat("a", 251) + ".txt", strings.Repeat("a", 251) + ".txt"},
	}
	for _, tt := range tests {
		got, err := CleanName(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}

	for _, bad := range []string{
		"", "a\x00.png", "\x00", strings.Repeat("a", 252) + ".txt", "dir/", "..", ".", "  ", "\r\n", "bad\xff.txt",
	} {
		_, err := CleanName(bad)
		if got, want := switchboard.ErrorCode(err), switchboard.EINVALID; got != want {
			t.Errorf("CleanName(%q) code = %q (%v), want %q", bad, got, err, want)
		}
		if _, err := Check(bad, []byte("x")); switchboard.ErrorCode(err) != switchboard.EINVALID {
			t.Errorf("Check(%q) = %v, want the name refused", bad, err)
		}
	}
}

func TestExt(t *testing.T) {
	for in, want := range map[string]string{
		"a.PNG": "png", "a.tar.gz": "gz", "a": "", "a.": "", ".txt": "txt", "a.t\u00e4r": "",
	} {
		if got := Ext(in); got != want {
			t.Errorf("Ext(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for ext, sample := range samples(f) {
		f.Add("file."+ext, head(sample))
	}
	for _, h := range [][]byte{elfHeader, peHeader, machOHeader, htmlScript, nil} {
		f.Add("x.png", h)
		f.Add("x.txt", h)
	}
	f.Add("../x\u202e.PNG", []byte("\x89PNG\r\n\x1a\n"))
	f.Add("a\x00.txt", []byte("x"))

	allowed := Extensions()
	f.Fuzz(func(t *testing.T, name string, head []byte) {
		ct, err := Check(name, head)
		if err != nil {
			if code := switchboard.ErrorCode(err); code != switchboard.EINVALID && code != switchboard.EUNSUPPORTED {
				t.Fatalf("Check(%q) error code %q: %v", name, code, err)
			}
			return
		}
		clean, err := CleanName(name)
		if err != nil {
			t.Fatalf("Check accepted %q but CleanName refuses it: %v", name, err)
		}
		if ext := Ext(clean); !slices.Contains(allowed, ext) {
			t.Fatalf("Check(%q) accepted extension %q", name, ext)
		}
		if ct == "" {
			t.Fatalf("Check(%q) returned no content type", name)
		}
		if isExecutable(head) {
			t.Fatalf("Check(%q) accepted a program", name)
		}
	})
}
