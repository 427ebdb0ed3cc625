package checkpoint

import "slices"

// Count is a number of objects and their bytes: for Done objects the bytes written, for the
// others the size the database knows.
type Count struct{ Objects, Bytes int64 }

// Add returns the sum of c and d.
func (c Count) Add(d Count) Count { return Count{c.Objects + d.Objects, c.Bytes + d.Bytes} }

// Counts is a checkpoint's tally: kind → status → Count. Pairs with no objects may be absent;
// a nil Counts is empty.
type Counts map[string]map[Status]Count

// add adds d to the count of kind and status.
func (c Counts) add(kind string, s Status, d Count) {
	byStatus := c[kind]
	if byStatus == nil {
		byStatus = make(map[Status]Count)
		c[kind] = byStatus
	}
	byStatus[s] = byStatus[s].Add(d)
}

// Sum returns the Count of status s over kinds, all kinds when kinds is empty.
func (c Counts) Sum(s Status, kinds ...string) Count {
	var sum Count
	for kind, byStatus := range c {
		if len(kinds) == 0 || slices.Contains(kinds, kind) {
			sum = sum.Add(byStatus[s])
		}
	}
	return sum
}

// ByStatus returns status → Count summed over kinds, all kinds when kinds is empty.
func (c Counts) ByStatus(kinds ...string) map[Status]Count {
	out := make(map[Status]Count)
	for kind, byStatus := range c {
		if len(kinds) == 0 || slices.Contains(kinds, kind) {
			for s, n := range byStatus {
				out[s] = out[s].Add(n)
			}
		}
	}
	return out
}

// Merge returns the sum of several tallies (the shards of one migration), kind by kind.
func Merge(all ...Counts) Counts {
	out := Counts{}
	for _, counts := range all {
		for kind, byStatus := range counts {
			for s, n := range byStatus {
				out.add(kind, s, n)
			}
		}
	}
	return out
}

// Equal reports whether c and d hold the same numbers; a pair with no objects and no bytes
// counts as absent.
func (c Counts) Equal(d Counts) bool {
	return c.within(d) && d.within(c)
}

func (c Counts) within(d Counts) bool {
	for kind, byStatus := range c {
		for s, n := range byStatus {
			if n != (Count{}) && d[kind][s] != n {
				return false
			}
		}
	}
	return true
}
