package attachment

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

// samples returns a real, minimal file for every allowed extension, built
// with the standard library's encoders where it has one.
func samples(t testing.TB) map[string][]byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{200, 10, 10, 255})
	encode := func(f func(*bytes.Buffer) error) []byte {
		t.Helper()
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	pngFile := encode(func(b *bytes.Buffer) error { return png.Encode(b, img) })
	jpegFile := encode(func(b *bytes.Buffer) error { return jpeg.Encode(b, img, nil) })
	gifFile := encode(func(b *bytes.Buffer) error { return gif.Encode(b, img, nil) })
	tarFile := tarSample(t)
	gzipped := func(data []byte) []byte {
		return encode(func(b *bytes.Buffer) error {
			w := gzip.NewWriter(b)
			if _, err := w.Write(data); err != nil {
				return err
			}
			return w.Close()
		})
	}
	ole := append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), make([]byte, 504)...)

	return map[string][]byte{
		"7z":   []byte("7z\xbc\xaf\x27\x1c\x00\x04\x8d\x9b\xd5\x0f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
		"avi":  riff("AVI ", []byte("LIST\x04\x00\x00\x00hdrl")),
		"bmp":  bmpSample(),
		"cfg":  []byte("[server]\nport = 8080\n"),
		"csv":  []byte("name,email\nAnn,ann@example.com\n"),
		"doc":  ole,
		"docx": zipSample(t, "[Content_Types].xml", "word/document.xml"),
		"gif":  gifFile,
		"gz":   gzipped([]byte("hello\n")),
		"jpeg": jpegFile,
		"jpg":  jpegFile,
		"json": []byte(`{"ok": true}`),
		"mkv":  ebml("matroska"),
		"mov":  []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  \x00\x00\x00\x08wide"),
		"mp3":  []byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64\x00\x00\x00\x00"),
		"mp4":  []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x08free"),
		"pcap": pcapSample(),
		"pdf":  []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"),
		"pgp":  []byte("-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAASAQdA\n=abcd\n-----END PGP MESSAGE-----\n"),
		"png":  pngFile,
		"psd":  append([]byte("8BPS\x00\x01\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00\x08\x00\x03"), make([]byte, 16)...),
		"rar":  []byte("Rar!\x1a\x07\x01\x00\x33\x92\xb5\xe5\x0a\x01\x05\x06\x00\x05\x01\x01\x80\x80\x00"),
		"svg":  []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect width="1" height="1"/></svg>`),
		"tar":  tarFile,
		"tgz":  gzipped(tarFile),
		"tif":  tiffSample(binary.LittleEndian, "II*\x00"),
		"tiff": tiffSample(binary.BigEndian, "MM\x00*"),
		"txt":  []byte("hello, world\n"),
		"wav":  riff("WAVE", []byte("fmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")),
		"webm": ebml("webm"),
		"wmv":  append([]byte("\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"), make([]byte, 14)...),
		"xls":  ole,
		"xlsx": zipSample(t, "[Content_Types].xml", "xl/workbook.xml"),
		"xml":  []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<note><to>Ann</to></note>\n"),
		"zip":  zipSample(t, "notes.txt"),
	}
}

func zipSample(t testing.TB, names ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, name := range names {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("<x/>")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tarSample(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	body := []byte("hello\n")
	if err := w.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(body)), Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// riff wraps chunks in a RIFF container of the given form.
func riff(form string, chunks []byte) []byte {
	b := []byte("RIFF")
	b = binary.LittleEndian.AppendUint32(b, uint32(4+len(chunks)))
	b = append(b, form...)
	return append(b, chunks...)
}

// ebml is an EBML header with the given DocType, as Matroska and WebM begin.
func ebml(docType string) []byte {
	b := []byte("\x1a\x45\xdf\xa3")
	body := append([]byte("\x42\x82"), byte(0x80|len(docType)))
	body = append(body, docType...)
	b = append(b, byte(0x80|len(body)))
	return append(b, body...)
}

// bmpSample is a 1x1 24-bit BMP with a BITMAPINFOHEADER.
func bmpSample() []byte {
	le := binary.LittleEndian
	b := []byte("BM")
	b = le.AppendUint32(b, 58) // file size
	b = le.AppendUint32(b, 0)  // reserved
	b = le.AppendUint32(b, 54) // pixel offset
	b = le.AppendUint32(b, 40) // DIB header size
	b = le.AppendUint32(b, 1)  // width
	b = le.AppendUint32(b, 1)  // height
	b = le.AppendUint16(b, 1)  // planes
	b = le.AppendUint16(b, 24) // bits per pixel
	b = append(b, make([]byte, 24)...)
	return append(b, 0x0a, 0x0a, 0xc8, 0x00) // one pixel, padded
}

// tiffSample is a header pointing at an empty IFD.
func tiffSample(order binary.AppendByteOrder, magic string) []byte {
	b := []byte(magic)
	b = order.AppendUint32(b, 8)
	return order.AppendUint16(b, 0)
}

// pcapSample is a little-endian classic pcap header for Ethernet.
func pcapSample() []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 65535)
	return le.AppendUint32(b, 1)
}

// pcapngSample is a pcapng section header block.
func pcapngSample() []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0x0a0d0d0a)
	b = le.AppendUint32(b, 28)
	b = le.AppendUint32(b, 0x1a2b3c4d)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, ^uint64(0))
	return le.AppendUint32(b, 28)
}

// Programs and pages that must never pass as anything.
var (
	elfHeader   = append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 56)...)
	peHeader    = append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), make([]byte, 48)...)
	machOHeader = append([]byte("\xcf\xfa\xed\xfe\x07\x00\x00\x01"), make([]byte, 24)...)
	htmlScript  = []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
)
