package main

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	// What `git describe --tags --always --dirty` appends to a tag: the
	// commits since it and the commit.
	describeSuffix = regexp.MustCompile(`-([0-9]+)-g([0-9a-f]{4,64})$`)
	// A release tag: v1.2.3, v2, 1.2, v1.2.3-rc1. Without its v it needs a
	// dot, so that an abbreviated commit of decimal digits only (describe
	// without a tag) is not taken for one.
	releaseTag = regexp.MustCompile(`^(?:v([0-9]+(?:\.[0-9]+)*)|([0-9]+(?:\.[0-9]+)+))(?:-([0-9A-Za-z.]+))?$`)
	// What describe prints for a repository without a tag: the commit.
	bareCommit = regexp.MustCompile(`^[0-9a-f]{4,64}$`)
)

// debVersion turns the version that `agentspool version` prints (git
// describe's) into a Debian version that sorts as the releases do, for
// dpkg and apt: the Debian version must begin with a digit, and "~" sorts
// before the empty string where "+" sorts after it.
//
//	v1.2.3                  1.2.3
//	v1.2.3-rc1              1.2.3~rc1            (before 1.2.3)
//	v1.2.3-4-gabc1234       1.2.3+4.gabc1234     (after 1.2.3, before 1.2.4)
//	v1.2.3-4-gabc1234-dirty 1.2.3+4.gabc1234.dirty
//	abc1234 (no tag yet)    0.0.0+gabc1234
func debVersion(v string) (string, error) {
	rest, dirty := strings.CutSuffix(v, "-dirty")
	var local []string
	if m := describeSuffix.FindStringSubmatch(rest); m != nil {
		rest = rest[:len(rest)-len(m[0])]
		local = append(local, m[1], "g"+m[2])
	}
	var deb string
	switch m := releaseTag.FindStringSubmatch(rest); {
	case m != nil:
		deb = m[1] + m[2]
		if m[3] != "" {
			deb += "~" + m[3]
		}
	case bareCommit.MatchString(rest) && local == nil:
		// Not a release: 0.0.0 sorts before the first one.
		deb = "0.0.0"
		local = append(local, "g"+rest)
	default:
		return "", fmt.Errorf("version %q: neither a release tag (v1.2.3) nor what git describe prints for one or for a commit; tag the release, or give VERSION=", v)
	}
	if dirty {
		local = append(local, "dirty")
	}
	if len(local) > 0 {
		deb += "+" + strings.Join(local, ".")
	}
	return deb, nil
}
