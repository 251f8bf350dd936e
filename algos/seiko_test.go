package algos

import (
	"slices"
	"testing"
)

// TestSEIKORounds checks the rounds that fit a budget: the schedule's sum by
// default, the last rounds shrunk or dropped to fit, none of fewer than 2.
func TestSEIKORounds(t *testing.T) {
	o := DefaultSEIKOOptions()
	for _, c := range []struct {
		schedule []int
		budget   int
		want     []int
	}{
		{[]int{256, 512, 1024, 2048}, 0, []int{256, 512, 1024, 2048}},
		{[]int{256, 512, 1024, 2048}, 1000, []int{256, 512, 232}},
		{[]int{64, 128, 256}, 300, []int{64, 128, 108}},
		{[]int{64, 128}, 65, []int{64}},
		{[]int{64, 128}, 1, nil},
	} {
		o.Schedule, o.Budget = c.schedule, c.budget
		if got := o.Rounds(); !slices.Equal(got, c.want) {
			t.Errorf("schedule %v, budget %d: rounds %v, want %v", c.schedule, c.budget, got, c.want)
		}
	}
	if err := DefaultSEIKOOptions().validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for name, change := range map[string]func(o *SEIKOOptions){
		"no schedule":  func(o *SEIKOOptions) { o.Schedule = nil },
		"round of 1":   func(o *SEIKOOptions) { o.Schedule = []int{1} },
		"negative sd":  func(o *SEIKOOptions) { o.Noise = -1 },
		"no heads":     func(o *SEIKOOptions) { o.Heads = 0 },
		"C2 = 0":       func(o *SEIKOOptions) { o.C2 = 0 },
		"model lambda": func(o *SEIKOOptions) { o.Model.Lambda = 0 },
	} {
		o := DefaultSEIKOOptions()
		change(&o)
		if err := o.validate(); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	for _, v := range SEIKOVariants {
		if _, err := LookupMethod("seiko-" + v); err != nil {
			t.Error(err)
		}
	}
}
