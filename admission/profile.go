package admission

import (
	"fmt"
	"strings"
)

// Version is a Harvester minor release whose webhook behaviour is reproduced.
type Version int

// The Harvester releases whose rule sets are implemented. v1.4 and v1.5 ship
// the same webhook code (upstream v0.5.x); v1.6 to v1.9 ship the
// network-controller-harvester line, v1.9 being upstream master. Rules gate
// on them with comparisons such as p.Version >= V1_7.
const (
	V1_4 Version = iota + 4
	V1_5
	V1_6
	V1_7
	V1_8
	V1_9
)

// newestVersion is the profile of every release newer than the last one
// known: upstream master (v1.9) behaviour.
const newestVersion = V1_9

var supportedVersions = []Version{V1_4, V1_5, V1_6, V1_7, V1_8, V1_9}

func (v Version) String() string { return fmt.Sprintf("v1.%d", int(v)) }

// ParseVersion accepts "v1.4", "1.4", "v1.4.3" and the like. A minor
// release newer than the newest known one parses as the newest.
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
			if int(v) == minor || (v == newestVersion && minor > int(newestVersion)) {
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

// atLeast reports whether the profile's release is v or newer.
func (p Profile) atLeast(v Version) bool { return p.Version >= v }

// legacy reports whether the profile is the v0.5.x rule set (v1.4, v1.5).
func (p Profile) legacy() bool { return p.Version < V1_6 }

// fromController reports whether the request comes from the network
// controller (--controller-user). An empty ControllerUser matches nobody.
func (r *Request) fromController() bool {
	return r.Profile.ControllerUser != "" && r.UserInfo.Username == r.Profile.ControllerUser
}
