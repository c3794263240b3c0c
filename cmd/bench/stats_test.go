package main

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	cases := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"one", []float64{3}, 3},
		{"odd, unsorted", []float64{9, 1, 5}, 5},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"an outlier does not move it", []float64{1, 1.1, 1.2, 100}, 1.15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := append([]float64(nil), c.xs...)
			if got := median(c.xs); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
			}
			for i := range in {
				if in[i] != c.xs[i] {
					t.Fatalf("median reordered its argument: %v, was %v", c.xs, in)
				}
			}
		})
	}
}

func TestPairedRatio(t *testing.T) {
	secs := func(xs ...float64) []result {
		var rs []result
		for _, x := range xs {
			rs = append(rs, result{seconds: x})
		}
		return rs
	}
	cases := []struct {
		name string
		a, b []result
		want float64
	}{
		// round by round 2/1, 4/2, 9/3: the median is 2, the mean would be 7/3
		{"rounds paired", secs(2, 4, 9), secs(1, 2, 3), 2},
		// a's fast round coincides with b's slow one: the ratio of medians
		// is 1, the rounds say a is twice as slow in 2 of 3
		{"ratios per round, not of medians", secs(2, 4, 1), secs(1, 2, 4), 2},
		{"a has more rounds: only pairs count", secs(2, 2, 100), secs(1, 1), 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pairedRatio(c.a, c.b); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("pairedRatio = %v, want %v", got, c.want)
			}
		})
	}
}
