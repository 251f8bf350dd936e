package philox_test

import (
	"fmt"

	"github.com/difftune/difftune/tensor/philox"
)

func ExampleSource() {
	src := philox.NewSource(42)
	noise := make([]float32, 4)
	for step := range 2 {
		src.NextNormal32(noise) // a fresh draw each step
		fmt.Printf("step %d: %.4f\n", step, noise)
	}
	// A GPU kernel can take the next draw index and generate it itself.
	fmt.Println("next draw:", src.Next())
	// Output:
	// step 0: [-0.9702 0.1940 -1.2356 1.9239]
	// step 1: [2.1277 2.1614 -0.4083 -1.6598]
	// next draw: 2
}

func ExampleUniform32() {
	// Element i depends only on (seed, draw, i), so a prefix of a longer
	// fill is the shorter fill.
	short := make([]float32, 3)
	long := make([]float32, 1<<17)
	philox.Uniform32(7, 0, short)
	philox.Uniform32(7, 0, long)
	fmt.Println(short[0] == long[0], short[2] == long[2])
	// Output: true true
}
