<?php
/**
 * Reports PHP 8 syntax and functions in the given files that PHP 7.4 (the plugin's minimum) lacks:
 * a token scan, run on the PHP that is installed, for what php -l on PHP 8 cannot catch.
 * Prints one "file:line: what" per finding; exits 1 when there is any.
 */

$php8_functions = array( 'str_contains', 'str_starts_with', 'str_ends_with', 'get_debug_type', 'get_resource_id', 'fdiv', 'array_is_list', 'enum_exists' );
$findings       = array();
foreach ( array_slice( $argv, 1 ) as $file ) {
	$tokens = token_get_all( file_get_contents( $file ) );
	$count  = count( $tokens );
	$depth  = 0; // Parentheses depth inside a function declaration's parameter list.
	$params = false;
	for ( $i = 0; $i < $count; $i++ ) {
		$token = $tokens[ $i ];
		$line  = is_array( $token ) ? $token[2] : ( isset( $last_line ) ? $last_line : 0 );
		if ( is_array( $token ) ) {
			$last_line = $token[2];
			$name      = token_name( $token[0] );
			if ( in_array( $name, array( 'T_MATCH', 'T_NULLSAFE_OBJECT_OPERATOR', 'T_ATTRIBUTE', 'T_ENUM', 'T_READONLY' ), true ) ) {
				$findings[] = "$file:$line: $name is PHP 8";
			}
			if ( 'T_STRING' === $name && in_array( strtolower( $token[1] ), $php8_functions, true ) ) {
				$findings[] = "$file:$line: {$token[1]}() is PHP 8";
			}
			if ( 'T_STRING' === $name && 'mixed' === strtolower( $token[1] ) && $params ) {
				$findings[] = "$file:$line: the mixed type is PHP 8";
			}
			if ( 'T_FUNCTION' === $name || 'T_FN' === $name ) {
				$params = 'pending';
			}
			if ( $params && $depth > 0 && in_array( $name, array( 'T_PUBLIC', 'T_PROTECTED', 'T_PRIVATE' ), true ) ) {
				$findings[] = "$file:$line: constructor property promotion is PHP 8";
			}
			continue;
		}
		if ( '(' === $token && 'pending' === $params ) {
			$params = true;
			$depth  = 1;
			continue;
		}
		if ( true === $params && '(' === $token ) {
			++$depth;
		} elseif ( true === $params && ')' === $token ) {
			--$depth;
			if ( 0 === $depth ) {
				// A trailing comma before the closing parenthesis of a parameter list is PHP 8.
				for ( $j = $i - 1; $j >= 0 && is_array( $tokens[ $j ] ) && T_WHITESPACE === $tokens[ $j ][0]; $j-- ) {
				}
				if ( ',' === $tokens[ $j ] ) {
					$findings[] = "$file:$line: a trailing comma in a parameter list is PHP 8";
				}
				$params = false;
			}
		}
	}
}
foreach ( $findings as $finding ) {
	echo $finding, "\n";
}
exit( $findings ? 1 : 0 );
