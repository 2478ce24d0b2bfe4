/* make_image(dir, layers, extra): an image layout at tmp/dir tagged "t",
   written by Python (tarfile, hashlib, json: independent of our code), for
   the C tests of the image readers (test_image_read.c, test_unpack_image.c).
   Include after ../scratch.h (it uses sh and p). */
#ifndef OCISPEC_TEST_PY_IMAGE_H
#define OCISPEC_TEST_PY_IMAGE_H

/* An image layout at tmp/dir tagged "t", written by Python: `layers` is a
   Python list of layers, each a list of (name, data | None for a
   directory | a str: a hard link to that name | (data, {xattr: value}));
   `extra` Python statements run before writing (they may
   change cfg, diff_ids, config_mt). */
static void make_image(const char *dir, const char *layers, const char *extra) {
  sh("python3 - '%s' <<'EOF'\n"
     "import gzip, hashlib, io, json, os, sys, tarfile\n"
     "root = sys.argv[1]\n"
     "os.makedirs(root + '/blobs/sha256')\n"
     "def put(data):\n"
     "    d = hashlib.sha256(data).hexdigest()\n"
     "    open(root + '/blobs/sha256/' + d, 'wb').write(data)\n"
     "    return 'sha256:' + d, len(data)\n"
     "def tar(entries):\n"
     "    b = io.BytesIO()\n"
     "    t = tarfile.open(fileobj=b, mode='w', format=tarfile.PAX_FORMAT)\n"
     "    for name, data in entries:\n"
     "        i = tarfile.TarInfo(name)\n"
     "        if isinstance(data, tuple):\n"
     "            data, xs = data\n"
     "            i.pax_headers = {'SCHILY.xattr.' + k: v for k, v in "
     "xs.items()}\n"
     "        if isinstance(data, str):\n"
     "            i.type = tarfile.LNKTYPE; i.linkname = data; t.addfile(i)\n"
     "        elif data is None:\n"
     "            i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)\n"
     "        else:\n"
     "            i.size = len(data); i.mode = 0o644\n"
     "            t.addfile(i, io.BytesIO(data))\n"
     "    t.close()\n"
     "    return b.getvalue()\n"
     "layers = %s\n"
     "descs, diff_ids = [], []\n"
     "for entries in layers:\n"
     "    raw = tar(entries)\n"
     "    diff_ids.append('sha256:' + hashlib.sha256(raw).hexdigest())\n"
     "    d, n = put(gzip.compress(raw, mtime=0))\n"
     "    descs.append({'mediaType': "
     "'application/vnd.oci.image.layer.v1.tar+gzip', 'digest': d, 'size': "
     "n})\n"
     "cfg = {'architecture': 'amd64', 'os': 'linux', 'config': {'User': "
     "'app', 'Env': ['A=1'], 'Cmd': ['/bin/app']}}\n"
     "config_mt = 'application/vnd.oci.image.config.v1+json'\n"
     "%s\n"
     "cfg['rootfs'] = {'type': 'layers', 'diff_ids': diff_ids}\n"
     "cd, cn = put(json.dumps(cfg).encode())\n"
     "m = {'schemaVersion': 2, 'mediaType': "
     "'application/vnd.oci.image.manifest.v1+json', 'config': {'mediaType': "
     "config_mt, 'digest': cd, 'size': cn}, 'layers': descs}\n"
     "md, mn = put(json.dumps(m).encode())\n"
     "open(root + '/oci-layout', 'w').write('{\"imageLayoutVersion\": "
     "\"1.0.0\"}')\n"
     "open(root + '/index.json', 'w').write(json.dumps({'schemaVersion': 2, "
     "'manifests': [{'mediaType': "
     "'application/vnd.oci.image.manifest.v1+json', 'digest': md, 'size': "
     "mn, 'annotations': {'org.opencontainers.image.ref.name': 't'}}]}))\n"
     "EOF",
     p(dir), layers, extra ? extra : "");
}

#endif
