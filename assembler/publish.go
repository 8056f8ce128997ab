package assembler

import "github.com/assemble-build/assemble/oci/sink"

// Items turns built images into sink items, one per reference (name:tag).
func Items(built []Built) []sink.Item {
	var items []sink.Item
	for _, b := range built {
		for _, ref := range RefsFor(b.Plan) {
			items = append(items, sink.Item{Name: ref, Image: b.Image, Index: b.Index, Referrers: b.referrers()})
		}
	}
	return items
}
