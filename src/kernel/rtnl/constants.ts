/**
 * Numeric constants of rtnetlink that callers outside the adapter need: the protocol number that
 * marks what wanbraid owns, address families, table ids, scopes, message types, multicast groups
 * and the link/address flag bits. Names are the kernel's (include/uapi/linux/rtnetlink.h,
 * if_addr.h, if.h) so they can be grepped for there. Attribute numbers are private to the file
 * of their object kind (RTA_* in route.ts, FRA_* in rule.ts, NHA_* in nexthop.ts, ...).
 */

/**
 * The protocol wanbraid stamps on the routes, nexthops and rules it owns (rtm_protocol,
 * nh_protocol, FRA_PROTOCOL). The reconciler treats everything else as foreign and never touches
 * it. 87 is unassigned in the kernel's list and in iproute2's rt_protos; the daemon names it
 * `wanbraid` in /etc/iproute2/rt_protos.d/ so that `ip route` shows `proto wanbraid`.
 */
export const RTPROT_WANBRAID = 87;

/** Route/rule origin (rtm_protocol). `ip(8)` calls these `proto kernel`, `proto static`, ... */
export const RTPROT_UNSPEC = 0;
export const RTPROT_REDIRECT = 1;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;
export const RTPROT_RA = 9;
export const RTPROT_DHCP = 16;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

/** Routing table ids. Ids above 255 do not fit the one-byte header field and travel in RTA_TABLE/FRA_TABLE. */
export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_DEFAULT = 253;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;
/** Largest id the kernel accepts for a table (RT_TABLE_MAX). */
export const RT_TABLE_MAX = 0xffffffff;

/** Route scopes (rtm_scope). `ip(8)` prints universe as `global`. */
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

/** rtnetlink message types. */
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;
export const RTM_NEWNEXTHOP = 104;
export const RTM_DELNEXTHOP = 105;
export const RTM_GETNEXTHOP = 106;

/** Multicast groups (numbers for NETLINK_ADD_MEMBERSHIP, not bit masks). */
export const RTNLGRP_LINK = 1;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV4_RULE = 8;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;
export const RTNLGRP_IPV6_RULE = 19;
export const RTNLGRP_NEXTHOP = 32;

/** Interface flags (ifi_flags). */
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_LOWER_UP = 0x10000;
export const IFF_DORMANT = 0x20000;

/** Address flags (ifa_flags, widened to 32 bits by IFA_FLAGS). */
export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_MANAGETEMPADDR = 0x100;
export const IFA_F_NOPREFIXROUTE = 0x200;
export const IFA_F_MCAUTOJOIN = 0x400;
export const IFA_F_STABLE_PRIVACY = 0x800;

/** Next-hop flags (rtnh_flags, nh_flags). */
export const RTNH_F_DEAD = 0x1;
export const RTNH_F_ONLINK = 0x4;
export const RTNH_F_LINKDOWN = 0x10;
