# tests/tls_helpers.bash - throwaway certificates for the HTTPS tests.
#
#   make_certs DIR
#       with openssl: DIR/ca.pem (a test CA), DIR/server.pem + DIR/server.key
#       (a server certificate for 127.0.0.1 and localhost signed by that CA),
#       and DIR/other-ca.pem (a second CA that signed nothing here).
#       Made once per DIR; everything stays under DIR.

make_certs() {
	local d=$1
	[ -s "$d/server.pem" ] && return 0
	command -v openssl >/dev/null || { echo "make_certs: openssl is not installed" >&2; return 1; }
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
		-days 2 -subj /CN=candlepipe-test-ca 2>/dev/null &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/other-ca.key" \
			-out "$d/other-ca.pem" -days 2 -subj /CN=candlepipe-other-ca 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" \
			-subj /CN=localhost 2>/dev/null &&
		printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
			'extendedKeyUsage=serverAuth' >"$d/server.ext" &&
		openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -out "$d/server.pem" -days 2 -extfile "$d/server.ext" 2>/dev/null
}
