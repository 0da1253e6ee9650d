package org

import "testing"

func TestJurisdiction(t *testing.T) {
	county := Org{Code: "220102", Level: County, Name: "县"}
	town := Org{Code: "220102001", Level: Township, Name: "乡"}
	tests := []struct {
		org  Org
		code string
		want bool
	}{
		{county, "220102001001", true},
		{county, "220102", true},
		{county, "220103001001", false},
		{town, "220102001001", true},
		{town, "220102002001", false},
		{town, "220102", false},
	}
	for _, tc := range tests {
		if got := tc.org.Contains(tc.code); got != tc.want {
			t.Errorf("%s.Contains(%s) = %v, want %v", tc.org.Code, tc.code, got, tc.want)
		}
	}
	for _, bad := range []Org{
		{Code: "22010200100", Level: Village, Name: "x"},
		{Code: "220102001000", Level: Village, Name: "x"},
		{Code: "220102", Level: Township, Name: "x"},
		{Code: "22010a", Level: County, Name: "x"},
		{Code: "220102", Level: County, Name: " "},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted a bad organisation", bad)
		}
	}
	for in, want := range map[string]string{"220102000000": "220102", "220102001000": "220102001", "220102001001": "220102001001"} {
		got, _, err := NormalizeCode(in)
		if err != nil || got != want {
			t.Errorf("NormalizeCode(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}
