"""Documented defaults. Override with a TOML file named by MDM_CONFIG, then MDM_* variables.

Every setting here can be set as an environment variable with the prefix `MDM_`, e.g.
`MDM_DATABASE_URL=postgresql+psycopg://...`. Values of environment variables are parsed as
JSON where they are valid JSON (numbers, true/false, lists), else taken as strings.
"""

# "development" generates missing secrets into the instance folder; "production" refuses to
# start without them.
ENV = "development"

# SQLAlchemy URL. Empty means the embedded SQLite database `instance/mdm.sqlite3`.
DATABASE_URL = ""

# Secrets. Empty in development means "generate once into instance/secrets.json".
SECRET_KEY = ""
JWT_SECRET_KEY = ""
# MultiFernet keys (url-safe base64, 32 bytes): the first encrypts, all decrypt, so keys rotate.
ENCRYPTION_KEYS: list[str] = []

# Lifetimes of login tokens, in seconds.
ACCESS_TOKEN_SECONDS = 15 * 60
REFRESH_TOKEN_SECONDS = 30 * 24 * 3600

# How old, in seconds, the login checks and plan versions a worker remembers may get before it
# looks in the database again (mdm/platform/cache.py): a logout, a password change, a disabled
# account or a new timetable reaches the other workers within this time (the worker that made the
# change knows at once; changes always check logins in the database). 0 looks on every request.
CACHE_CHECK_SECONDS = 1.0

# The admin pages' login is a signed cookie (Flask's session, signed with SECRET_KEY), read only
# by pages, never by /api. It lasts as long as a refresh token (REFRESH_TOKEN_SECONDS) unless
# logged out; a logout, a password change or a disabled account ends it at once. Set
# SESSION_COOKIE_SECURE = true when the service is reached over HTTPS (as in production).
SESSION_COOKIE_NAME = "mdm_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False

# The TrueType font of the printed password slips and enrollment sheets (PDF): one with every
# letter of the names (Debian's fonts-dejavu-core); the sheets' headings use the bold one.
# Without them, letters beyond Latin-1 print as "?".
PDF_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PDF_FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

# werkzeug password hash method; "scrypt" is scrypt with n=2**15, r=8, p=1.
PASSWORD_HASH_METHOD = "scrypt"
# The lower cost of generated initial passwords (72 random bits), so that a school's import of a
# thousand students stays within a request. Every login attempt does the work of one hash of
# each method, whatever the account has.
INITIAL_PASSWORD_HASH_METHOD = "scrypt:4096:8:1"

# Login rate limits: failed logins allowed in the window, for one account from one address, for
# one account from all addresses, and from one address (a school logs in from behind one NAT).
LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS = 5
LOGIN_FAILURES_PER_ACCOUNT = 50
LOGIN_FAILURES_PER_ADDRESS = 200
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
# "memory://" (one process) or a Redis URL such as "redis://127.0.0.1:6379/0" (several instances).
RATELIMIT_STORAGE_URL = "memory://"

# Enrollment tokens: unknown token secrets allowed per client address in the window before 429.
ENROLLMENT_TOKEN_FAILURES_PER_ADDRESS = 20
ENROLLMENT_TOKEN_FAILURE_WINDOW_SECONDS = 15 * 60

# Devices (JSON agent protocol): how often agents check in, in seconds; the largest inventory
# stored per device, in bytes of JSON (larger is refused); lifetime of device client certificates.
AGENT_CHECK_IN_SECONDS = 15 * 60
AGENT_MAX_INVENTORY_BYTES = 64 * 1024
DEVICE_CERTIFICATE_DAYS = 397
# Apple SCEP (docs/scep.md): how long a pending iPad's one-time challenge is valid, in seconds,
# from the moment its enrollment profile is made until the iPad asks for its certificate.
APPLE_SCEP_CHALLENGE_SECONDS = 60 * 60
# Trust the client certificate a TLS-terminating proxy forwards in the X-SSL-Client-Cert header
# (URL-encoded PEM, e.g. nginx's $ssl_client_escaped_cert). Only when the proxy verifies client
# certificates against the schools' device CAs and strips the header from client requests.
AGENT_TRUST_CLIENT_CERT_HEADER = False

# Largest request body accepted, in bytes (larger gets 413), however it is sent.
MAX_CONTENT_LENGTH = 16 * 1024 * 1024

# How many proxies in front of the service (load balancer, TLS terminator) add an
# X-Forwarded-For / -Proto / -Host entry that is to be trusted. 0 (the default) trusts none: the
# client address is the connection's. Behind one load balancer: 1. Rate limits and the audit
# log use the client address this gives.
TRUSTED_PROXY_HOPS = 0

# Packages whose `init_app(app)` adds blueprints, CLI commands and jobs.
PACKAGES = ["enrollment", "schedules", "calendars"]

# Run the job scheduler inside the web process (only `mdm run` sets this).
SCHEDULER_IN_PROCESS = False
# How late a scheduled job may start and still count for its slot, in seconds.
SCHEDULER_GRACE_SECONDS = 60

# The address browsers and phones reach the service at, e.g. "https://mdm.schulen.example.org"
# or, for one machine in a school's network, "http://192.168.1.20:5000". Links the service hands
# out begin with it: enrollment URLs and their QR codes, the panel link, feed URLs. Empty (the
# default): links follow the address each request came to (its Host; behind TRUSTED_PROXY_HOPS
# proxies, the forwarded one), and `mdm run` uses the address it serves for links made outside a
# request. Set it in production, and whenever links are made outside a request (jobs, the CLI).
BASE_URL = ""

# Default time zone of new schools.
DEFAULT_TIMEZONE = "Europe/Berlin"

# Timetable folder import: a folder with one subfolder per school slug (e.g.
# /srv/timetables/gymnasium-a/) into which Untis or Indiware write their export (files or a zip).
# The job `schedules.import-folder` imports a school's export when its files changed. Empty: off.
TIMETABLE_IMPORT_FOLDER = ""
# How often the folder job looks, in seconds.
TIMETABLE_IMPORT_INTERVAL_SECONDS = 300
# How large one timetable export may be (upload, CLI or folder): files, bytes unpacked, lines
# of one file. Checked before anything is parsed; larger exports are refused.
TIMETABLE_IMPORT_MAX_FILES = 200
TIMETABLE_IMPORT_MAX_BYTES = 64 * 1024 * 1024
TIMETABLE_IMPORT_MAX_ROWS = 200_000
# An import that would remove more than this share of a kind of the plan it replaces (weekly
# lessons, a day's substitutions, classes, ...; kinds of 10 rows or more) is refused unless
# forced (API `force=1`, CLI `--force`); the folder job never forces.
TIMETABLE_IMPORT_MAX_REMOVED_SHARE = 0.5

# Where the OpenAPI document is served. Its docs page, /api/docs, is Swagger UI from the
# flask-swagger-ui package (mdm/pages.py): it needs no internet.
API_TITLE = "Schul-MDM"
API_VERSION = "v1"
OPENAPI_VERSION = "3.1.0"
OPENAPI_URL_PREFIX = "/api"
OPENAPI_JSON_PATH = "openapi.json"

# Calendar feeds: the window of a feed (days before and after today in the school's time zone),
# how often calendar apps are asked to refresh (REFRESH-INTERVAL and X-PUBLISHED-TTL, minutes),
# and how many rendered feeds a worker keeps (each is kept with its gzip form).
CALENDAR_WINDOW_DAYS_BACK = 7
CALENDAR_WINDOW_DAYS_AHEAD = 84
CALENDAR_REFRESH_MINUTES = 30
CALENDAR_FEED_CACHE_ENTRIES = 512
# Calendar sources (personal calendars by URL): how often the job `calendars.refresh-sources`
# looks for due sources (seconds) and how many it fetches per run; a new source's refresh
# interval (minutes; each source may set 15 minutes to a week); sources per person; the largest
# calendar fetched or uploaded (bytes, after decompression); events of one source in a feed's
# window (recurrences expanded) at most.
CALENDAR_SOURCE_JOB_SECONDS = 60
CALENDAR_SOURCE_BATCH = 100
CALENDAR_SOURCE_REFRESH_MINUTES = 60
CALENDAR_SOURCES_PER_USER = 10
CALENDAR_SOURCE_MAX_BYTES = 10 * 1024 * 1024
CALENDAR_SOURCE_MAX_EVENTS = 5000
# The fetcher: connect and read timeouts, and the longest a whole fetch may take (seconds).
CALENDAR_FETCH_CONNECT_TIMEOUT_SECONDS = 5.0
CALENDAR_FETCH_READ_TIMEOUT_SECONDS = 15.0
CALENDAR_FETCH_TOTAL_SECONDS = 60.0
# Networks a source URL may never reach (the address actually connected to is checked, also
# after every redirect): loopback, private, link-local, CGNAT, unique-local, IPv4-mapped and
# other special ranges. Networks in the allowed list are exceptions to it (tests allow their
# loopback server; a city may allow an internal calendar server).
CALENDAR_FETCH_BLOCKED_NETWORKS = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
]
CALENDAR_FETCH_ALLOWED_NETWORKS: list[str] = []

# Commands (mdm/commands): how long a command waits for its device unless the admin says
# otherwise, and at most; after how long a command sent without a result is sent again (its
# answer may have been lost); when a command the device answered "not now" is sent again; how
# many days finished commands are kept (the audit log keeps who sent what for longer).
COMMAND_DEFAULT_EXPIRY_SECONDS = 7 * 24 * 3600
COMMAND_MAX_EXPIRY_SECONDS = 90 * 24 * 3600
COMMAND_RESEND_SECONDS = 300
COMMAND_NOT_NOW_RETRY_SECONDS = 300
COMMAND_RETENTION_DAYS = 14
# Agents: most pieces of work in one check-in answer (the rest come with the next check-in),
# and the largest `data` of a result, in bytes of JSON.
AGENT_MAX_WORK_ITEMS = 50
AGENT_MAX_RESULT_BYTES = 16 * 1024

# Push wake-ups (mdm/push): how often the job sends queued wake-ups, in seconds; the back-off
# of a failed wake-up (doubling from the base up to the maximum) and the attempts before it is
# given up (the device still gets its work at its next check-in); wake-ups sent per run.
PUSH_SEND_INTERVAL_SECONDS = 15
PUSH_RETRY_BASE_SECONDS = 30
PUSH_RETRY_MAX_SECONDS = 3600
PUSH_MAX_ATTEMPTS = 8
PUSH_BATCH_SIZE = 5000
# Timeout of one push request (APNs or a school's webhook), in seconds.
PUSH_TIMEOUT_SECONDS = 10
# APNs: the gateway (MDM pushes always use the production gateway), a CA bundle to verify it
# (empty: the system's), and how many pushes are in flight at once on the HTTP/2 connection.
PUSH_APNS_URL = "https://api.push.apple.com"
PUSH_APNS_CA_FILE = ""
PUSH_APNS_CONCURRENCY = 50
# Let schools' webhooks point at loopback, private or link-local addresses (a bridge inside the
# city's own network). Off: such URLs are refused, so a webhook cannot reach internal services.
PUSH_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False

# Apple MDM (mdm/apple, docs/apple.md). The largest check-in or command message a device may
# send, in bytes (larger gets 413); the reverse-DNS prefix of the PayloadIdentifiers of the
# profiles the service makes (followed by the school's slug).
APPLE_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
APPLE_PAYLOAD_PREFIX = "de.schulen.mdm"
# The device identity in the enrollment profile: "pkcs12" (a key and certificate of the
# school's device CA, password-protected, inside the profile) or "scep" (the device makes its
# own key and gets its certificate from the school's SCEP URL with a one-time challenge).
APPLE_ENROLLMENT_IDENTITY = "scep"
# Account-driven User Enrollment of personal iPhones and iPads (docs/apple.md): how long the
# one-time access token handed to the device after its owner's login and consent stays valid,
# in seconds (the device fetches its enrollment profile with it at once).
APPLE_ACCOUNT_TOKEN_SECONDS = 15 * 60
# The certificate (PEM, optionally followed by its chain) and key (PEM) enrollment profiles are
# signed with, so that the device shows who made them: paths to files. Empty in development:
# a self-signed pair is generated once into the instance folder. Empty in production: Apple
# enrollment profiles are refused until they are set.
APPLE_PROFILE_SIGNING_CERTIFICATE = ""
APPLE_PROFILE_SIGNING_KEY = ""
APPLE_PROFILE_SIGNING_KEY_PASSWORD = ""
