-- The sidecar's database is created by the image from MARIADB_DATABASE; WordPress gets its own.
CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT ALL PRIVILEGES ON wordpress.* TO 'farewell'@'%';
