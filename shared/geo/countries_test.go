package geo

import "testing"

func TestCountries(t *testing.T) {
	if len(countries) != 249 {
		t.Errorf("%d codes, want 249", len(countries))
	}
	for _, c := range []string{"US", "DE", "JP", "BR", "ZW"} {
		if !IsCountry(c) {
			t.Errorf("%s not a country", c)
		}
	}
	for _, c := range []string{"us", "UK", "EU", "XX", ""} {
		if IsCountry(c) {
			t.Errorf("%q is a country", c)
		}
	}
}
