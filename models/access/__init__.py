"""Who is signed in where: login sessions held on the server, and the counters that throttle logins."""
