# Shared by the interop scripts: tie a session the way a Perl application configures each class,
# and dump a session's contents as typed JSON so the tests can compare exactly what Perl sees.
#
# Every script takes a JSON config as its first argument:
#   {"backend":"File","directory":"...","lockDirectory":"...","transaction":1}
#   {"backend":"MySQL","table":"..."}
#   {"backend":"Postgres","table":"..."}
use strict;
use warnings;
use B ();
use JSON::PP ();
use Scalar::Util qw(blessed reftype);

binmode STDOUT;
$| = 1;

my %CLASS = (File => 'Apache::Session::File', MySQL => 'Apache::Session::MySQL', Postgres => 'Apache::Session::Postgres');

sub config_from_argv {
    my $json = shift @ARGV // die "usage: $0 CONFIG-JSON ...\n";
    return JSON::PP->new->decode($json);
}

# The arguments each Apache::Session class documents, as a Perl application would pass them.
sub tie_args {
    my ($config) = @_;
    my $backend = $config->{backend};
    if ($backend eq 'File') {
        return { Directory => $config->{directory}, LockDirectory => $config->{lockDirectory},
                 Transaction => $config->{transaction} ? 1 : 0 };
    }
    if ($backend eq 'MySQL') {
        my $dsn = 'DBI:mysql:database=test;host=127.0.0.1';
        return { DataSource => $dsn, UserName => 'root', Password => '',
                 LockDataSource => $dsn, LockUserName => 'root', LockPassword => '',
                 TableName => $config->{table} };
    }
    if ($backend eq 'Postgres') {
        return { DataSource => 'DBI:Pg:dbname=test;host=127.0.0.1', UserName => 'postgres', Password => '',
                 Commit => 1, TableName => $config->{table} };
    }
    die "unknown backend $backend\n";
}

# Ties %$session to $id (undef: a new session). Dies as Apache::Session does when it cannot.
sub tie_session {
    my ($config, $session, $id) = @_;
    my $class = $CLASS{$config->{backend}} // die "unknown backend $config->{backend}\n";
    eval "require $class; 1" or die $@;
    tie %$session, $class, $id, tie_args($config);
}

# Typed plain data: strings stay JSON strings and numbers JSON numbers by the scalar's own flags
# (POK wins, as in Storable), blessed references become {"$bless": class, "$value": ...} and
# scalar references {"$ref": ...}, so a string "3" and a number 3 never compare equal.
sub plain {
    my ($value) = @_;
    return undef unless defined $value;
    if (ref $value) {
        my $type = reftype $value;
        my $inner = $type eq 'HASH'  ? { map { ($_ => plain($value->{$_})) } keys %$value }
                  : $type eq 'ARRAY' ? [ map { plain($_) } @$value ]
                  : $type eq 'SCALAR' || $type eq 'REF' ? { '$ref' => plain($$value) }
                  : die "cannot dump a $type reference\n";
        my $class = blessed $value;
        return defined $class ? { '$bless' => $class, '$value' => $inner } : $inner;
    }
    my $flags = B::svref_2object(\$value)->FLAGS;
    return "$value" if $flags & B::SVf_POK;
    return 0 + $value if $flags & (B::SVf_IOK | B::SVf_NOK);
    return "$value";
}

sub print_json {
    my ($data) = @_;
    print JSON::PP->new->utf8->canonical->encode($data), "\n";
}

1;
