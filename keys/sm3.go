package keys

import "github.com/emmansun/gmsm/sm3"

func sm3Sum(b []byte) [32]byte { return sm3.Sum(b) }
