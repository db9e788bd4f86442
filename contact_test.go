package switchboard_test

import (
	"testing"

	sb "github.com/switchboard/switchboard"
)

func TestNormalizePhone(t *testing.T) {
	t.Run("one number written many ways is one value", func(t *testing.T) {
		for _, in := range []string{
			"+44 20 7946 0000",
			"+442079460000",
			"0044 20 7946 0000",
			" +44-20-7946-0000 ",
			"+44.20.7946.0000",
			"+44 (20) 7946 0000",
			"+44 (0)20 7946 0000",
			"0044 (0) 20 7946 0000",
			"+44\u00a020\t7946 0000",
		} {
			got, err := sb.NormalizePhone(in)
			if err != nil || got != "+442079460000" {
				t.Errorf("NormalizePhone(%q) = %q, %v; want +442079460000", in, got, err)
			}
		}
	})
	t.Run("national and short numbers stay as they are written", func(t *testing.T) {
		for in, want := range map[string]string{
			"020 7946 0000":  "02079460000", // no country known: not guessed
			"(020) 79460000": "02079460000",
			"112":            "112",
			"+1 555 0100":    "+15550100",
		} {
			if got, err := sb.NormalizePhone(in); err != nil || got != want {
				t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
			}
		}
	})
	t.Run("what is no phone number is invalid", func(t *testing.T) {
		for _, in := range []string{
			"", "   ", "+", "00", "12", "+12",
			"call me", "+44 20 7946 0000 ext. 12", "555-CALL-NOW", "+44+20", "44 20 +7946",
			"+1234567890123456", // 16 digits: longer than E.164 allows
			"４４２０７９４６００００",      // full-width digits
		} {
			got, err := sb.NormalizePhone(in)
			if code := sb.ErrorCode(err); code != sb.EINVALID {
				t.Errorf("NormalizePhone(%q) = %q, %v; want an invalid error", in, got, err)
			}
		}
	})
	t.Run("a phone block is stored normalised, or refused", func(t *testing.T) {
		b := sb.Block{Kind: sb.BlockPhone, Value: "0044 20 7946 0000"}
		if err := b.Validate(); err != nil || b.Value != "+442079460000" {
			t.Fatalf("block value %q, %v", b.Value, err)
		}
		b = sb.Block{Kind: sb.BlockPhone, Value: "not a number"}
		if err := b.Validate(); sb.ErrorCode(err) != sb.EINVALID {
			t.Fatalf("block of %q: %v, want invalid", b.Value, err)
		}
	})
}
