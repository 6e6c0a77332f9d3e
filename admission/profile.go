package admission

import (
	"fmt"
	"strings"
)

// Version is a Harvester minor release whose webhook behaviour is reproduced.
type Version int

// The Harvester releases whose rule sets are implemented. v1.4 and v1.5 ship
// the same webhook code (upstream v0.5.x).
const (
	V1_4 Version = iota + 4
	V1_5
)

// DefaultVersion is the profile used when none is configured.
const DefaultVersion = V1_5

var supportedVersions = []Version{V1_4, V1_5}

func (v Version) String() string { return fmt.Sprintf("v1.%d", int(v)) }

// ParseVersion accepts "v1.4", "1.4", "v1.4.3" and the like.
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	var minor, patch int
	n, _ := fmt.Sscanf(t, "1.%d.%d", &minor, &patch)
	want := "1." + fmt.Sprint(minor)
	if n == 2 {
		want += "." + fmt.Sprint(patch)
	}
	if n >= 1 && t == want {
		for _, v := range supportedVersions {
			if int(v) == minor {
				return v, nil
			}
		}
	}
	return 0, fmt.Errorf("unsupported Harvester version %q: accepted values are %s", s, acceptedVersions())
}

func acceptedVersions() string {
	names := make([]string, len(supportedVersions))
	for i, v := range supportedVersions {
		names[i] = v.String()
	}
	return strings.Join(names, ", ")
}

// Profile selects the rule set and the identities the rules consult.
type Profile struct {
	Version Version
	// ControllerUser is the username of the network controller (--controller-user).
	ControllerUser string
}
