<?php
/**
 * The history readers on a site with the stand-ins, which define the membership plugins' classes
 * and functions but not all of their tables: a reader whose plugin's tables are missing says it is
 * unavailable, so the importer and the Import history page never query a table that is not there.
 */
class HistoryReadersTest extends Farewell_Test_Case {

	public function test_readers_without_their_plugins_tables_are_unavailable() {
		global $wpdb;
		$this->assertTrue( function_exists( 'rcp_get_membership' ) );
		$this->assertNull( $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->prefix . 'rcp_memberships' ) ) );
		$this->assertFalse( ( new Farewell_Bridge_History_Restrict_Content() )->available() );
		$this->assertFalse( ( new Farewell_Bridge_History_Pmpro() )->available() ); // No pmpro_subscriptions table.
		$this->assertTrue( ( new Farewell_Bridge_History_Woocommerce_Subscriptions() )->available() );

		$wpdb->suppress_errors( false );
		$before = $wpdb->num_queries;
		$slugs  = array_keys( Farewell_Bridge_Importer::sources() );
		$this->assertNotContains( 'restrict-content', $slugs );
		$this->assertNotContains( 'paidmembershipspro', $slugs );
		$this->assertContains( 'woocommerce-subscriptions', $slugs );
		$this->assertSame( '', $wpdb->last_error );
		$this->assertGreaterThan( $before, $wpdb->num_queries );
	}
}
