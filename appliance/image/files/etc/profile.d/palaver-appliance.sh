# Palaver appliance: once root has logged in (which forced a new root password), the initial one
# is no longer shown on the console.
if [ "$(id -u)" = 0 ] && [ -e /var/lib/palaver-appliance/root-password ]; then
	rm -f /var/lib/palaver-appliance/root-password
	/usr/lib/palaver-appliance/console >/dev/null 2>&1 || true
fi
