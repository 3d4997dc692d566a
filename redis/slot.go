package redis

import (
	"strconv"
	"sync"
)

// slots is the number of hash slots Redis Cluster divides keys and sharded
// channels into.
const slots = 16384

// slotOf returns the Redis Cluster hash slot of a key or sharded channel
// name: CRC16 (XMODEM) of the name, or of its hash tag, modulo 16384. The
// hash tag is what lies between the first "{" and the first "}" after it,
// when not empty; names that share one land in one slot. The broker computes
// slots itself to batch SSUBSCRIBE by slot (Redis refuses one naming
// channels of several) and to know which shard serves a channel.
func slotOf(name string) int {
	if i := indexByte(name, '{'); i >= 0 {
		if j := indexByte(name[i+1:], '}'); j > 0 {
			name = name[i+1 : i+1+j]
		}
	}
	return int(crc16(name) % slots)
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// crc16Table is the lookup table of CRC16-CCITT (XMODEM: polynomial 0x1021,
// initial value 0), the checksum Redis Cluster hashes names with.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crc16Table[byte(c>>8)^s[i]]
	}
	return c
}

var (
	slotTagsOnce sync.Once
	slotTagsTab  [slots]string
)

// slotTag returns a short hash tag that puts a name in slot s: a node's
// probe channel on a shard carries the tag of one of the shard's slots.
func slotTag(s int) string {
	slotTagsOnce.Do(func() {
		left := slots
		for i := 0; left > 0; i++ {
			tag := strconv.Itoa(i)
			if n := crc16(tag) % slots; slotTagsTab[n] == "" {
				slotTagsTab[n] = tag
				left--
			}
		}
	})
	return slotTagsTab[s]
}
