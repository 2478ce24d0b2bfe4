/* runtime-spec defaults: the configuration `runc spec` writes (Debian's
   runc 1.1.5), and `runc spec --rootless` for given ids. Kept as the JSON
   runc prints, so the content is exactly runc's; ociVersion is runc's too. */
#include <string.h>

#include "internal.h"
#include "ocispec/runtime.h"

/* clang-format off */
static const char default_spec[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"terminal\":true,\"user\":{\"uid\""
    ":0,\"gid\":0},\"args\":[\"sh\"],\"env\":[\"PATH=/usr/local/sbin:/usr/local/"
    "bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TERM=xterm\"],\"cwd\":\"/\",\"capabi"
    "lities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SE"
    "RVICE\"],\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SE"
    "RVICE\"],\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SE"
    "RVICE\"],\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERV"
    "ICE\"]},\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}"
    "],\"noNewPrivileges\":true},\"root\":{\"path\":\"rootfs\",\"readonly\":true}"
    ",\"hostname\":\"runc\",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\","
    "\"source\":\"proc\"},{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tm"
    "pfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"optio"
    "ns\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\""
    "gid=5\"]},{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\""
    "options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},{\""
    "destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"opti"
    "ons\":[\"nosuid\",\"noexec\",\"nodev\"]},{\"destination\":\"/sys\",\"type\":\"sy"
    "sfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],\"linux\":{\""
    "resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},\"namespace"
    "s\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\""
    "},{\"type\":\"mount\"}],\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/p"
    "roc/kcore\",\"/proc/keys\",\"/proc/latency_stats\",\"/proc/timer_list\",\""
    "/proc/timer_stats\",\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi"
    "\"],\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\""
    ",\"/proc/sysrq-trigger\"]}}";

static const char rootless_spec[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"terminal\":true,\"user\":{\"uid\""
    ":0,\"gid\":0},\"args\":[\"sh\"],\"env\":[\"PATH=/usr/local/sbin:/usr/local/"
    "bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TERM=xterm\"],\"cwd\":\"/\",\"capabi"
    "lities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SE"
    "RVICE\"],\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SE"
    "RVICE\"],\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SE"
    "RVICE\"],\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERV"
    "ICE\"]},\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}"
    "],\"noNewPrivileges\":true},\"root\":{\"path\":\"rootfs\",\"readonly\":true}"
    ",\"hostname\":\"runc\",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\","
    "\"source\":\"proc\"},{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tm"
    "pfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"optio"
    "ns\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]}"
    ",{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\""
    ":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},{\"destinat"
    "ion\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":[\"n"
    "osuid\",\"noexec\",\"nodev\"]},{\"destination\":\"/sys\",\"type\":\"none\",\"sou"
    "rce\":\"/sys\",\"options\":[\"rbind\",\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},{\""
    "destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"o"
    "ptions\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],\"linux\":{\"ui"
    "dMappings\":[{\"containerID\":0,\"hostID\":0,\"size\":1}],\"gidMappings\":["
    "{\"containerID\":0,\"hostID\":0,\"size\":1}],\"namespaces\":[{\"type\":\"pid\""
    "},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"user\"}],"
    "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/ke"
    "ys\",\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\""
    "/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi\"],\"readonlyPaths\":["
    "\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigge"
    "r\"]}}";
/* clang-format on */

int oci_runtime_spec_default(oci_runtime_spec **out, oci_error *err) {
  oci_error_reset(err);
  return oci_runtime_spec_parse(default_spec, sizeof default_spec - 1, NULL,
                                out, err);
}

/* runc maps the container's root to the calling user and group; the
   template holds 0 and the ids are set here. */
int oci_runtime_spec_rootless(uint32_t uid, uint32_t gid,
                              oci_runtime_spec **out, oci_error *err) {
  oci_error_reset(err);
  int rc = oci_runtime_spec_parse(rootless_spec, sizeof rootless_spec - 1, NULL,
                                  out, err);
  if (rc) return rc;
  (*out)->linux_->uid_mappings.items[0]->host_id = uid;
  (*out)->linux_->gid_mappings.items[0]->host_id = gid;
  return OCI_OK;
}
