package mongodb

import "math"

func mathFloat(f float64) uint64 { return math.Float64bits(f) }
